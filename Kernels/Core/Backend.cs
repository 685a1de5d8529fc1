using System.Numerics;

namespace Engine.Kernels;

/// <summary>
/// A device: it allocates buffers, moves data between host and device, and (through
/// <see cref="Backend{T}"/>) runs kernels. Every launch is queued on one stream in program order;
/// nothing waits for the device except <see cref="Synchronize"/> and the <c>Download</c> calls.
/// </summary>
public abstract class Backend : IDisposable
{
    /// <summary>What this device is.</summary>
    public abstract DeviceInfo Info { get; }

    /// <summary>Allocates an uninitialised buffer of <paramref name="length"/> elements.</summary>
    public abstract DeviceBuffer<TElement> Allocate<TElement>(int length) where TElement : unmanaged;

    /// <summary>Copies host data into a device view (same length).</summary>
    public abstract void Upload<TElement>(ReadOnlySpan<TElement> source, View<TElement> destination) where TElement : unmanaged;

    /// <summary>Copies a device view to host memory (same length). Waits for queued work first.</summary>
    public abstract void Download<TElement>(View<TElement> source, Span<TElement> destination) where TElement : unmanaged;

    /// <summary>Blocks until every queued kernel has finished.</summary>
    public abstract void Synchronize();

    /// <summary>Allocates a buffer and fills it from the host.</summary>
    public DeviceBuffer<TElement> Allocate<TElement>(ReadOnlySpan<TElement> values) where TElement : unmanaged
    {
        var buffer = Allocate<TElement>(values.Length);
        Upload(values, buffer.View);
        return buffer;
    }

    /// <summary>Downloads a view into a new host array (reporting and tests; never inside a step).</summary>
    public TElement[] ToArray<TElement>(View<TElement> source) where TElement : unmanaged
    {
        var result = new TElement[source.Length];
        Download(source, result);
        return result;
    }

    /// <summary>Downloads one element (reporting; never inside a step).</summary>
    public TElement Read<TElement>(View<TElement> source, int index = 0) where TElement : unmanaged
    {
        Span<TElement> one = stackalloc TElement[1];
        Download(source.Slice(index, 1), one);
        return one[0];
    }

    /// <summary>Releases the device (and, for ILGPU, its context).</summary>
    public abstract void Dispose();

    /// <inheritdoc/>
    public override string ToString() => Info.ToString();
}

/// <summary>
/// The complete set of numeric kernels over element type <typeparamref name="T"/>. The SIMD CPU path
/// implements it for <c>float</c> and <c>double</c> (<c>double</c> is the reference every float32
/// kernel is checked against); the ILGPU backends implement it for <c>float</c>.
/// The kernel families are declared in partial files beside this one, one per concept
/// (<c>Backend.Gemm.cs</c>, <c>Backend.Elementwise.cs</c>, …).
/// Matrices are row-major and densely packed. Kernels that "accumulate" compute <c>out += …</c>;
/// otherwise they overwrite.
/// </summary>
public abstract partial class Backend<T> : Backend where T : unmanaged, IFloatingPointIeee754<T>
{
}
