using System.Runtime.InteropServices;

namespace Engine.Kernels.Cpu;

/// <summary>Host memory for the CPU backend: 64-byte aligned native memory (one cache line, one
/// AVX-512 register), freed deterministically on <see cref="DeviceBuffer{T}.Dispose()"/>.</summary>
public sealed unsafe class CpuBuffer<T> : DeviceBuffer<T> where T : unmanaged
{
    private T* _pointer;

    internal CpuBuffer(Backend owner, int length) : base(owner, length)
    {
        nuint bytes = (nuint)Math.Max(1, length) * (nuint)sizeof(T);
        _pointer = (T*)NativeMemory.AlignedAlloc(bytes, 64);
        if (_pointer == null) throw new OutOfMemoryException($"Could not allocate {bytes} bytes.");
    }

    /// <summary>Start of the memory.</summary>
    public T* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _pointer;
        }
    }

    /// <summary>The elements [offset, offset+length) as a span.</summary>
    public Span<T> AsSpan(int offset, int length) => new(Pointer + offset, length);

    ~CpuBuffer() => Free();

    protected override void Free()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
    }
}

/// <summary>Span access to views of CPU buffers.</summary>
public static class CpuViewExtensions
{
    /// <summary>The view's elements as a span (the view must live on a CPU backend).</summary>
    public static Span<T> Span<T>(this View<T> view) where T : unmanaged
    {
        if (view.Buffer is null) return default;
        if (view.Buffer is not CpuBuffer<T> cpu)
            throw new ArgumentException($"{view} does not live in CPU memory.", nameof(view));
        return cpu.AsSpan(view.Offset, view.Length);
    }

    /// <summary>Pointer to the view's first element (for kernels that index by hand).</summary>
    public static unsafe T* Pointer<T>(this View<T> view) where T : unmanaged
    {
        if (view.Buffer is null) return null;
        if (view.Buffer is not CpuBuffer<T> cpu)
            throw new ArgumentException($"{view} does not live in CPU memory.", nameof(view));
        return cpu.Pointer + view.Offset;
    }
}
