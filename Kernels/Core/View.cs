namespace Engine.Kernels;

/// <summary>
/// A window (offset, length) into a <see cref="DeviceBuffer{T}"/>: what every kernel takes.
/// Parameters are views into one flat parameter buffer; activations are views into the step arena.
/// <c>default(View&lt;T&gt;)</c> is the empty view, used for "no bias", "no AMSGrad buffer" and so on.
/// </summary>
public readonly struct View<T> : IEquatable<View<T>> where T : unmanaged
{
    public View(DeviceBuffer<T> buffer, int offset, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length),
                $"View [{offset}, {offset + length}) does not fit in a buffer of {buffer.Length} elements.");
        Buffer = buffer;
        Offset = offset;
        Length = length;
    }

    /// <summary>The buffer this view looks into (null for the empty view).</summary>
    public DeviceBuffer<T>? Buffer { get; }

    /// <summary>Index of the first element within <see cref="Buffer"/>.</summary>
    public int Offset { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>True for <c>default(View&lt;T&gt;)</c> or a zero-length view.</summary>
    public bool IsEmpty => Buffer is null || Length == 0;

    /// <summary>A sub-window of this view.</summary>
    public View<T> Slice(int offset, int length)
    {
        if (Buffer is null) throw new InvalidOperationException("Cannot slice the empty view.");
        if ((uint)offset > (uint)Length || (uint)length > (uint)(Length - offset))
            throw new ArgumentOutOfRangeException(nameof(length),
                $"Slice [{offset}, {offset + length}) does not fit in a view of {Length} elements.");
        return new View<T>(Buffer, Offset + offset, length);
    }

    /// <summary>A sub-window from <paramref name="offset"/> to the end of this view.</summary>
    public View<T> Slice(int offset) => Slice(offset, Length - offset);

    public bool Equals(View<T> other) => ReferenceEquals(Buffer, other.Buffer) && Offset == other.Offset && Length == other.Length;
    public override bool Equals(object? obj) => obj is View<T> v && Equals(v);
    public override int GetHashCode() => HashCode.Combine(Buffer, Offset, Length);
    public static bool operator ==(View<T> a, View<T> b) => a.Equals(b);
    public static bool operator !=(View<T> a, View<T> b) => !a.Equals(b);
    public override string ToString() => Buffer is null ? "View(empty)" : $"View[{Offset}..{Offset + Length})";
}
