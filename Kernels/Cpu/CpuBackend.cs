using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The SIMD CPU path, generic over <c>float</c> (the fast path) and <c>double</c> (the reference
/// every float32 kernel is checked against). Kernels are written with System.Numerics.Tensors'
/// <c>TensorPrimitives</c> and <c>Vector256/Vector512</c>, and split across cores by the backend's own
/// <see cref="CpuWorkers"/> (threads − 1 dedicated workers plus the caller; nothing allocated per run) only where
/// the work is large enough.
/// Everything runs synchronously on the calling thread, so "the stream" is program order.
/// The kernel families live in partial files beside their ILGPU twins.
/// </summary>
public sealed partial class CpuBackend<T> : Backend<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceInfo _info;

    /// <summary>Creates the CPU backend using up to <paramref name="threads"/> cores (default: all).</summary>
    public CpuBackend(int? threads = null)
    {
        Threads = Math.Max(1, threads ?? Environment.ProcessorCount);
        Workers = new CpuWorkers(Threads);
        string simd = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : Vector128.IsHardwareAccelerated ? "SSE/NEON" : "scalar";
        long memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string cpuName = CpuModel.DeviceName(CpuModel.Read(), Threads, simd, typeof(T) == typeof(float) ? "float32" : typeof(T) == typeof(double) ? "float64" : typeof(T).Name);
        _info = new DeviceInfo(cpuName, BackendKind.Cpu, memory, simd, Threads);
    }

    /// <summary>Cores the kernels may use.</summary>
    public int Threads { get; }

    /// <summary>The threads parallel kernels run on (exactly <see cref="Threads"/> of them, the caller included).</summary>
    internal CpuWorkers Workers { get; }

    /// <inheritdoc/>
    public override DeviceInfo Info => _info;

    /// <inheritdoc/>
    public override DeviceBuffer<TElement> Allocate<TElement>(int length) => new CpuBuffer<TElement>(this, length);

    /// <inheritdoc/>
    public override void Upload<TElement>(ReadOnlySpan<TElement> source, View<TElement> destination)
    {
        Check.Owned(this, destination, nameof(destination));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Upload of {source.Length} elements into a view of {destination.Length}.", nameof(destination));
        source.CopyTo(destination.Span());
    }

    /// <inheritdoc/>
    public override void Download<TElement>(View<TElement> source, Span<TElement> destination)
    {
        Check.Owned(this, source, nameof(source));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Download of a view of {source.Length} elements into {destination.Length}.", nameof(destination));
        ((ReadOnlySpan<TElement>)source.Span()).CopyTo(destination);
    }

    /// <inheritdoc/>
    public override void Synchronize() { }

    /// <inheritdoc/>
    public override void Dispose() => Workers.Dispose();
}
