namespace Engine.Kernels;

/// <summary>
/// A bump allocator for per-step temporaries (activations, their gradients, loss scalars).
/// <see cref="Take"/> hands out views; <see cref="Reset"/> makes all of them free again at once.
/// The first step discovers how much memory a step needs (overflowing into extra blocks);
/// the following <see cref="Reset"/> replaces the blocks by one block of the high-water size, so
/// every later step of the same shape allocates nothing on the device.
/// </summary>
public sealed class Arena<T> : IDisposable where T : unmanaged
{
    /// <summary>Every view starts on a multiple of this many elements (64 bytes for float), for aligned SIMD loads.</summary>
    public const int Alignment = 16;

    private readonly Backend _backend;
    private readonly List<DeviceBuffer<T>> _blocks = [];
    private int _block;          // index of the block being filled
    private int _used;           // elements used in that block
    private long _usedThisStep;  // over all blocks

    /// <summary>Creates an arena; <paramref name="initialCapacity"/> elements are allocated up front.</summary>
    public Arena(Backend backend, int initialCapacity = 0)
    {
        _backend = backend;
        if (initialCapacity > 0) _blocks.Add(backend.Allocate<T>(initialCapacity));
    }

    /// <summary>Most elements any step has used.</summary>
    public long HighWater { get; private set; }

    /// <summary>Elements currently allocated on the device.</summary>
    public long Capacity => _blocks.Sum(b => (long)b.Length);

    /// <summary>Number of device allocations made so far (stays constant once the arena has settled).</summary>
    public int Allocations { get; private set; }

    /// <summary>A view of <paramref name="length"/> uninitialised elements, valid until the next <see cref="Reset"/>.</summary>
    public View<T> Take(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int padded = (length + Alignment - 1) / Alignment * Alignment;
        while (_block < _blocks.Count && _blocks[_block].Length - _used < padded)
        {
            _block++;
            _used = 0;
        }
        if (_block == _blocks.Count)
        {
            long grow = Math.Max(padded, Math.Max(1024, Capacity));
            _blocks.Add(_backend.Allocate<T>((int)Math.Min(int.MaxValue - 64, grow)));
            Allocations++;
            _used = 0;
        }
        var view = _blocks[_block].Slice(_used, length);
        _used += padded;
        _usedThisStep += padded;
        HighWater = Math.Max(HighWater, _usedThisStep);
        return view;
    }

    /// <summary>Frees every view handed out since the last reset. If the step overflowed into
    /// several blocks, they are replaced by one block big enough for the whole step.</summary>
    public void Reset()
    {
        if (_blocks.Count > 1 || (_blocks.Count == 1 && _blocks[0].Length < HighWater))
        {
            foreach (var block in _blocks) block.Dispose();
            _blocks.Clear();
            _blocks.Add(_backend.Allocate<T>((int)HighWater));
            Allocations++;
        }
        _block = 0;
        _used = 0;
        _usedThisStep = 0;
    }

    /// <summary>Frees the device memory.</summary>
    public void Dispose()
    {
        foreach (var block in _blocks) block.Dispose();
        _blocks.Clear();
    }
}
