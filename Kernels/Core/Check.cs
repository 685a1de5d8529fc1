namespace Engine.Kernels;

/// <summary>Argument validation shared by every backend, so that bad shapes fail the same way everywhere
/// with a message that names the operand.</summary>
public static class Check
{
    /// <summary>Throws unless <paramref name="view"/> holds exactly <paramref name="expected"/> elements.</summary>
    public static void Length<T>(View<T> view, long expected, string operand) where T : unmanaged
    {
        if (view.IsEmpty && expected != 0)
            throw new ArgumentException($"{operand} is empty but must hold {expected} elements.", operand);
        if (view.Length != expected)
            throw new ArgumentException($"{operand} has {view.Length} elements but must hold {expected}.", operand);
    }

    /// <summary>Throws unless <paramref name="view"/> holds at least <paramref name="expected"/> elements.</summary>
    public static void AtLeast<T>(View<T> view, long expected, string operand) where T : unmanaged
    {
        if (view.Length < expected)
            throw new ArgumentException($"{operand} has {view.Length} elements but needs at least {expected}.", operand);
    }

    /// <summary>Throws unless two views have the same length.</summary>
    public static void SameLength<T1, T2>(View<T1> a, string nameA, View<T2> b, string nameB)
        where T1 : unmanaged where T2 : unmanaged
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{nameA} has {a.Length} elements but {nameB} has {b.Length}; they must match.", nameB);
    }

    /// <summary>Throws unless a dimension is positive.</summary>
    public static void Positive(long value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }

    /// <summary>Throws unless a dimension is zero or positive.</summary>
    public static void NonNegative(long value, string name)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative.");
    }

    /// <summary>Throws unless the view was allocated by <paramref name="backend"/>.</summary>
    public static void Owned<T>(Backend backend, View<T> view, string operand) where T : unmanaged
    {
        if (view.Buffer is { } b && !ReferenceEquals(b.Owner, backend))
            throw new ArgumentException($"{operand} lives on {b.Owner.Info.Kind} but the kernel runs on {backend.Info.Kind}.", operand);
        if (view.Buffer is { IsDisposed: true })
            throw new ObjectDisposedException(operand, $"{operand} was disposed.");
    }

    /// <summary>
    /// True when <paramref name="value"/> is a declared member of <typeparamref name="TEnum"/>: <c>Enum.IsDefined</c>
    /// without its hidden cost on a hot path. Enum.IsDefined reads a per-type cache that the runtime holds only
    /// weakly, so after every full garbage collection the next call rebuilds it (about 250 bytes) — an allocation
    /// inside a training step that should allocate nothing. The declared values here are read once and kept.
    /// </summary>
    public static bool IsDefined<TEnum>(TEnum value) where TEnum : struct, Enum
    {
        var values = DeclaredValues<TEnum>.Values;
        for (int i = 0; i < values.Length; i++)
            if (EqualityComparer<TEnum>.Default.Equals(values[i], value)) return true;
        return false;
    }

    private static class DeclaredValues<TEnum> where TEnum : struct, Enum
    {
        public static readonly TEnum[] Values = Enum.GetValues<TEnum>();
    }
}
