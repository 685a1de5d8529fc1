namespace Engine.Kernels;

/// <summary>One named parameter: a window of the flat parameter buffer, and the same window of the
/// flat gradient buffer.</summary>
/// <param name="Name">A unique name, e.g. <c>trunk.0.weight</c> (used in checkpoints and diagnostics).</param>
/// <param name="Shape">The tensor's shape, e.g. [out, in] for a dense weight.</param>
/// <param name="Offset">Index of its first element in the flat buffers.</param>
/// <param name="Length">Product of the shape.</param>
public sealed record ParameterSlot(string Name, int[] Shape, int Offset, int Length);

/// <summary>
/// All parameters of a model in one flat device buffer, and all their gradients in a second one of the
/// same layout. Each parameter is a view (offset, shape). Fused Adam, the global norm and clipping are
/// then one launch each over one buffer; <see cref="SegmentOffsets"/> lets one reduction produce every
/// per-parameter norm. Parameters are laid out in registration order (so the shared trunk, registered
/// first, is one contiguous prefix).
/// </summary>
public sealed class FlatParameters<T> : IDisposable where T : unmanaged
{
    private readonly List<ParameterSlot> _slots = [];
    private readonly Dictionary<string, ParameterSlot> _byName = new(StringComparer.Ordinal);
    private readonly Backend _backend;
    private DeviceBuffer<T>? _values, _gradients;
    private DeviceBuffer<int>? _segmentOffsets;

    public FlatParameters(Backend backend) => _backend = backend;

    /// <summary>The slots in layout order.</summary>
    public IReadOnlyList<ParameterSlot> Slots => _slots;

    /// <summary>Total number of scalar parameters.</summary>
    public int Count { get; private set; }

    /// <summary>True once <see cref="Allocate"/> has run (no more parameters may be added).</summary>
    public bool IsAllocated => _values is not null;

    /// <summary>Reserves a parameter of the given shape; returns its slot.</summary>
    public ParameterSlot Add(string name, params int[] shape)
    {
        if (IsAllocated) throw new InvalidOperationException($"Cannot add '{name}': the parameter buffer is already allocated.");
        if (_byName.ContainsKey(name)) throw new ArgumentException($"A parameter named '{name}' already exists.", nameof(name));
        long length = 1;
        foreach (int d in shape)
        {
            if (d <= 0) throw new ArgumentException($"Parameter '{name}' has a non-positive dimension in shape [{string.Join(", ", shape)}].", nameof(shape));
            length *= d;
        }
        if (Count + length > int.MaxValue) throw new ArgumentException($"Parameter '{name}' does not fit: more than 2³¹ parameters in total.");
        var slot = new ParameterSlot(name, [.. shape], Count, (int)length);
        _slots.Add(slot);
        _byName.Add(name, slot);
        Count += (int)length;
        return slot;
    }

    /// <summary>Looks a slot up by name.</summary>
    public ParameterSlot this[string name] =>
        _byName.TryGetValue(name, out var slot) ? slot : throw new KeyNotFoundException($"No parameter named '{name}'.");

    /// <summary>Allocates the value and gradient buffers (gradients zeroed by the caller's first step).</summary>
    public void Allocate()
    {
        if (IsAllocated) return;
        _values = _backend.Allocate<T>(Count);
        _gradients = _backend.Allocate<T>(Count);
        var offsets = new int[_slots.Count + 1];
        for (int i = 0; i < _slots.Count; i++) offsets[i] = _slots[i].Offset;
        offsets[^1] = Count;
        _segmentOffsets = _backend.Allocate<int>(offsets);
    }

    /// <summary>The flat parameter buffer.</summary>
    public View<T> Values => (_values ?? throw NotAllocated()).View;

    /// <summary>The flat gradient buffer (same layout as <see cref="Values"/>).</summary>
    public View<T> Gradients => (_gradients ?? throw NotAllocated()).View;

    /// <summary>S+1 offsets delimiting each parameter in the flat buffers (for segmented reductions).</summary>
    public View<int> SegmentOffsets => (_segmentOffsets ?? throw NotAllocated()).View;

    /// <summary>The values of one parameter.</summary>
    public View<T> ValuesOf(ParameterSlot slot) => Values.Slice(slot.Offset, slot.Length);

    /// <summary>The gradient of one parameter.</summary>
    public View<T> GradientsOf(ParameterSlot slot) => Gradients.Slice(slot.Offset, slot.Length);

    private static InvalidOperationException NotAllocated() => new("Call Allocate() after adding every parameter.");

    public void Dispose()
    {
        _values?.Dispose();
        _gradients?.Dispose();
        _segmentOffsets?.Dispose();
    }
}
