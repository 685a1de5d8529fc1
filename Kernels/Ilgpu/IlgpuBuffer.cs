using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>Device memory for an ILGPU accelerator (CUDA, OpenCL or ILGPU's CPU accelerator).</summary>
public sealed class IlgpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    internal IlgpuBuffer(Backend owner, Accelerator accelerator, int length) : base(owner, length)
    {
        Memory = accelerator.Allocate1D<T>(Math.Max(1, length));
    }

    /// <summary>The ILGPU allocation (at least one element long, so empty buffers stay valid).</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; }

    protected override void Free() => Memory.Dispose();
}

/// <summary>ILGPU array views of <see cref="View{T}"/>s.</summary>
public static class IlgpuViewExtensions
{
    /// <summary>The view as the ILGPU array view a kernel takes. The empty view maps to a
    /// zero-length ILGPU view (a kernel must not touch it).</summary>
    public static ArrayView1D<T, Stride1D.Dense> Ilgpu<T>(this View<T> view) where T : unmanaged
    {
        if (view.Buffer is null) return default;
        if (view.Buffer is not IlgpuBuffer<T> buffer)
            throw new ArgumentException($"{view} does not live on an ILGPU accelerator.", nameof(view));
        return buffer.Memory.View.SubView(view.Offset, view.Length);
    }
}
