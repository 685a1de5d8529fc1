using Engine.Kernels;

namespace Engine.Distributed;

/// <summary>
/// The data-parallel step's one collective: the parts of a step that depend on this rank's rows are packed into ONE
/// contiguous device buffer, scaled by this rank's share of the global batch (rows / global rows), summed over ranks
/// in place, and unpacked. Afterwards every rank holds the gradients and losses of the global batch, bit-identical,
/// so clipping, the combiner and the optimizer that follow compute the same update everywhere (docs/maths.md §20).
/// <para>The parts, in order (given by the step): [T × shared] per-task gradients of the shared parameters (per-task
/// path), every other gradient (task-owned; on the Σ λᵢLᵢ path all of them), the uncertainty sᵢ gradients when they
/// were computed before the exchange, and the T batch losses. The buffer is allocated once; a step adds one copy in
/// and one out per part, one scale launch and the collective, and no allocation.</para>
/// </summary>
public sealed class GradientExchange : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly View<float>[] _parts;
    private readonly DeviceBuffer<float> _buffer;

    /// <summary>Packs <paramref name="parts"/> (device views of <paramref name="backend"/>, in this order) for
    /// <paramref name="communicator"/>.</summary>
    public GradientExchange(Backend<float> backend, ICommunicator communicator, IReadOnlyList<View<float>> parts)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(parts);
        _backend = backend;
        Communicator = communicator;
        _parts = [.. parts.Where(p => p.Length > 0)];
        long length = _parts.Sum(p => (long)p.Length);
        if (length > int.MaxValue) throw new ArgumentException($"The exchange would hold {length} floats; at most {int.MaxValue} fit one buffer.", nameof(parts));
        _buffer = backend.Allocate<float>((int)Math.Max(1, length));
        Length = (int)length;
    }

    /// <summary>The communicator.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>Floats all-reduced per step (bytes: 4×).</summary>
    public int Length { get; }

    /// <summary>The packed buffer (after <see cref="Run"/>: the global sums).</summary>
    public View<float> Buffer => _buffer.Slice(0, Length);

    /// <summary>One exchange: pack, scale by <paramref name="rows"/>/<paramref name="globalRows"/>, all-reduce, unpack.</summary>
    public void Run(int rows, int globalRows)
    {
        if (globalRows <= 0 || (uint)rows > (uint)globalRows)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"A rank's rows must lie in [0, {globalRows}] (the global batch).");
        int offset = 0;
        foreach (var part in _parts)
        {
            _backend.Copy(part, _buffer.Slice(offset, part.Length));
            offset += part.Length;
        }
        if (rows != globalRows) _backend.Scale(Buffer, (float)((double)rows / globalRows));
        Communicator.AllReduceSum(Buffer);
        offset = 0;
        foreach (var part in _parts)
        {
            _backend.Copy(_buffer.Slice(offset, part.Length), part);
            offset += part.Length;
        }
    }

    /// <summary>Frees the buffer.</summary>
    public void Dispose() => _buffer.Dispose();
}
