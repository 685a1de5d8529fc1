namespace Engine.Kernels;

/// <summary>Argument checks of the DSelect-k kernels (<see cref="Backend{T}.SmoothStep"/>, the selectors, the entropy
/// terms), shared by both backends so both throw the same exception naming the operand.</summary>
internal static class DSelectChecks
{
    public static void Gamma<T>(T gamma) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (!(gamma > T.Zero) || !T.IsFinite(gamma))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "The smooth-step's γ must be positive and finite.");
    }

    public static void SmoothStepBackward<T>(Backend backend, View<T> x, View<T> dy, View<T> dx) where T : unmanaged
    {
        KernelChecks.Binary(backend, x, nameof(x), dy, nameof(dy), dx, nameof(dx));
        if (dx == x) throw new ArgumentException("dx must not be x (the backward reads the input).", nameof(dx));
    }

    public static void Selectors<T>(Backend backend, View<T> s, string sName, int rows, int selectors, int bits, View<T> r, string rName) where T : unmanaged
    {
        Check.Positive(rows, nameof(rows)); Check.Positive(selectors, nameof(selectors)); Check.Positive(bits, nameof(bits));
        if (bits > DSelectReference.MaxBits) throw new ArgumentOutOfRangeException(nameof(bits), bits, $"At most {DSelectReference.MaxBits} code bits ({1 << DSelectReference.MaxBits} experts).");
        Check.Length(s, (long)rows * selectors * bits, sName);
        Check.Length(r, (long)selectors * rows * (1L << bits), rName);
        Check.Owned(backend, s, sName); Check.Owned(backend, r, rName);
        if (s == r || KernelChecks.PartlyOverlap(s, r)) throw new ArgumentException($"{rName} must not overlap {sName}.", rName);
    }

    public static void SelectorsBackward<T>(Backend backend, View<T> s, View<T> dr, int rows, int selectors, int bits, View<T> ds) where T : unmanaged
    {
        Selectors(backend, s, nameof(s), rows, selectors, bits, dr, nameof(dr));
        Check.Length(ds, (long)rows * selectors * bits, nameof(ds));
        Check.Owned(backend, ds, nameof(ds));
        if (ds == s || KernelChecks.PartlyOverlap(ds, s)) throw new ArgumentException("ds must not overlap s.", nameof(ds));
        if (ds == dr || KernelChecks.PartlyOverlap(ds, dr)) throw new ArgumentException("ds must not overlap dr.", nameof(ds));
    }

    public static void EntropyTerms<T>(Backend backend, View<T> x, View<T> terms, View<T> derivative) where T : unmanaged
    {
        KernelChecks.Binary(backend, x, nameof(x), terms, nameof(terms), derivative, nameof(derivative));
        if (terms == x || derivative == x || terms == derivative || KernelChecks.PartlyOverlap(terms, derivative))
            throw new ArgumentException("x, terms and derivative must be three separate views.", nameof(terms));
    }
}
