namespace Engine.Kernels;

/// <summary>
/// A contiguous block of device memory holding <see cref="Length"/> elements of <typeparamref name="T"/>.
/// Owned by the <see cref="Backend"/> that allocated it; dispose it to free the memory at once
/// (device memory is never left to the garbage collector).
/// </summary>
public abstract class DeviceBuffer<T> : IDisposable where T : unmanaged
{
    protected DeviceBuffer(Backend owner, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Owner = owner;
        Length = length;
    }

    /// <summary>The backend that allocated this buffer; only its kernels may touch it.</summary>
    public Backend Owner { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>The whole buffer as a view.</summary>
    public View<T> View => new(this, 0, Length);

    /// <summary>A view of <paramref name="length"/> elements starting at <paramref name="offset"/>.</summary>
    public View<T> Slice(int offset, int length) => View.Slice(offset, length);

    /// <summary>Frees the device memory. Idempotent.</summary>
    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the memory (called once).</summary>
    protected abstract void Free();
}
