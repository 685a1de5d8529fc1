using Engine.Kernels;

namespace Engine.Distributed;

/// <summary>What a part of the exchange holds, and so how it is weighted (docs/maths.md §20).</summary>
public enum ExchangeWeight
{
    /// <summary>A mean over this rank's labelled rows, one row of the part per task (<see cref="ExchangePart.Tasks"/>
    /// equal rows, row k belonging to task FirstTask + k): sent as nₜ⁽ʳ⁾·x, divided by the global Nₜ after the sum.
    /// With every row labelled, nₜ⁽ʳ⁾/Nₜ is the rank's row share and the part is scaled by it instead.</summary>
    TaskMean,

    /// <summary>A mean over this rank's rows that mixes tasks (∇Σλᵢ Lᵢ): scaled by the row share nᵣ/n. Exact only when
    /// every row carries every label; refused by a count-weighted exchange.</summary>
    RowMean,

    /// <summary>A sum (labelled counts, metric sums): added as it is.</summary>
    Sum,
}

/// <summary>One part of the exchange: a device view and its weighting.</summary>
public readonly record struct ExchangePart(View<float> Values, ExchangeWeight Weight, int FirstTask = 0, int Tasks = 1)
{
    /// <summary>A mean over the labelled rows of task <paramref name="task"/>.</summary>
    public static ExchangePart TaskMean(View<float> values, int task) => new(values, ExchangeWeight.TaskMean, task, 1);

    /// <summary><paramref name="tasks"/> equal rows, row k a mean over the labelled rows of task k ([T × S] gradients, the T losses).</summary>
    public static ExchangePart PerTask(View<float> values, int tasks) => new(values, ExchangeWeight.TaskMean, 0, tasks);

    /// <summary>A mean over the rows that mixes tasks.</summary>
    public static ExchangePart RowMean(View<float> values) => new(values, ExchangeWeight.RowMean);

    /// <summary>A sum.</summary>
    public static ExchangePart Sum(View<float> values) => new(values, ExchangeWeight.Sum);
}

/// <summary>
/// The data-parallel step's one collective: the parts of a step that depend on this rank's rows are packed into ONE
/// contiguous device buffer, weighted, summed over ranks in place, normalised and unpacked. Afterwards every rank holds
/// the gradients, losses, labelled counts and metric sums of the global batch, bit-identical, so clipping, the combiner
/// and the optimizer that follow compute the same update everywhere (docs/maths.md §20).
/// <para><b>Count-weighted</b> (labels may be missing; the default): task t's loss on rank r is the mean over its nₜ⁽ʳ⁾
/// labelled values, so its global mean is Σᵣ nₜ⁽ʳ⁾·xₜ⁽ʳ⁾ / Σᵣ nₜ⁽ʳ⁾. Each <see cref="ExchangeWeight.TaskMean"/> row is
/// multiplied by this rank's nₜ⁽ʳ⁾ (read on the device from <c>counts</c>) before the sum; the counts travel in the same
/// buffer, and after the sum every row is divided by the global Nₜ (0 where Nₜ = 0: no gradient, never NaN) and the
/// counts view holds the global Nₜ. <b>Mass-weighted</b> (count-weighted with <c>masses</c>: sample weights, class
/// weights, maths §19.9, §19.11): task t's loss on rank r is Σ w·ℓ / Dₜ⁽ʳ⁾ with its weight mass Dₜ⁽ʳ⁾ = Σ w·m (the
/// count nₜ⁽ʳ⁾ for a task whose loss is a plain masked mean), so each row is multiplied by Dₜ⁽ʳ⁾ instead and divided by
/// the global Dₜ = Σᵣ Dₜ⁽ʳ⁾: the exact global weighted mean; the masses travel in the same buffer after the counts, and
/// after the sum the masses view holds the global Dₜ, the counts view the global Nₜ. <b>Row-share</b> (the caller knows every row carries every label): every mean part
/// is scaled by the host scalar rows/globalRows (one launch, none on one rank: a one-rank run is bit-identical to a plain
/// one), and the counts are still summed.</para>
/// <para>The buffer is allocated once; a step adds one copy in and one out per part, the weighting launches (one per
/// task row in count mode, one in row-share mode), the division launches, the collective, and no allocation.</para>
/// </summary>
public sealed class GradientExchange : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly ExchangePart[] _parts;
    private readonly int[] _offsets;
    private readonly View<float> _counts, _masses;
    private readonly int _countsOffset, _massesOffset, _meanLength;
    private readonly DeviceBuffer<float> _buffer;

    /// <summary>Packs the parts and the labelled counts (after them) for the communicator.</summary>
    /// <param name="backend">The training backend (every view is its memory).</param>
    /// <param name="communicator">The ranks.</param>
    /// <param name="parts">The mean parts first, then the sums.</param>
    /// <param name="counts">The T labelled counts of this rank's batch (in); after <see cref="Run"/> the global ones.</param>
    /// <param name="countWeighted">False only when every row of the global data carries every label (row-share mode).</param>
    /// <param name="masses">Count-weighted mode only, optional: the T weight masses Dₜ⁽ʳ⁾ of this rank's batch (in) that
    /// weigh the task rows instead of the counts; after <see cref="Run"/> the global ones.</param>
    public GradientExchange(Backend<float> backend, ICommunicator communicator, IReadOnlyList<ExchangePart> parts, View<float> counts, bool countWeighted,
        View<float> masses = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(parts);
        if (counts.Length == 0) throw new ArgumentException("The exchange needs the T labelled counts.", nameof(counts));
        if (!masses.IsEmpty && (!countWeighted || masses.Length != counts.Length))
            throw new ArgumentException($"The weight masses ({masses.Length}) weigh a count-weighted exchange, one per task ({counts.Length}).", nameof(masses));
        _backend = backend;
        Communicator = communicator;
        CountWeighted = countWeighted;
        _counts = counts;
        _masses = masses;
        _parts = [.. parts.Where(p => p.Values.Length > 0)];
        _offsets = new int[_parts.Length];
        long length = 0;
        bool sums = false;
        for (int i = 0; i < _parts.Length; i++)
        {
            var p = _parts[i];
            if (p.Weight == ExchangeWeight.Sum) sums = true;
            else if (sums) throw new ArgumentException("The mean parts come before the sums (one contiguous weighted segment).", nameof(parts));
            if (p.Weight == ExchangeWeight.RowMean && countWeighted)
                throw new ArgumentException("A part that mixes tasks cannot be weighted by per-task labelled counts: use the per-task parts.", nameof(parts));
            if (p.Weight == ExchangeWeight.TaskMean && (p.Tasks <= 0 || p.FirstTask < 0 || p.FirstTask + p.Tasks > counts.Length || p.Values.Length % p.Tasks != 0))
                throw new ArgumentException($"Part {i}: {p.Tasks} task rows from task {p.FirstTask} do not fit {counts.Length} counts and {p.Values.Length} values.", nameof(parts));
            _offsets[i] = (int)Math.Min(length, int.MaxValue);
            length += p.Values.Length;
            if (!sums) _meanLength = (int)Math.Min(length, int.MaxValue);
        }
        _countsOffset = (int)Math.Min(length, int.MaxValue);
        length += counts.Length;
        _massesOffset = (int)Math.Min(length, int.MaxValue);
        length += masses.Length;
        if (length > int.MaxValue) throw new ArgumentException($"The exchange would hold {length} floats; at most {int.MaxValue} fit one buffer.", nameof(parts));
        _buffer = backend.Allocate<float>((int)length);
        Length = (int)length;
    }

    /// <summary>The communicator.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>True when the means are weighted by the labelled counts or the weight masses (false: by the row share).</summary>
    public bool CountWeighted { get; }

    /// <summary>True when the means are weighted by the weight masses Dₜ (sample or class weights), not the counts.</summary>
    public bool MassWeighted => !_masses.IsEmpty;

    /// <summary>Floats all-reduced per step (bytes: 4×).</summary>
    public int Length { get; }

    /// <summary>The packed buffer (after <see cref="Run"/>: the global values).</summary>
    public View<float> Buffer => _buffer.Slice(0, Length);

    /// <summary>One exchange: pack and weight, all-reduce (THE collective of the step), normalise, unpack.
    /// <paramref name="rows"/> and <paramref name="globalRows"/> give the row share of the row-share mode.</summary>
    public void Run(int rows, int globalRows)
    {
        if (globalRows <= 0 || (uint)rows > (uint)globalRows)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"A rank's rows must lie in [0, {globalRows}] (the global batch).");
        var globalCounts = _buffer.Slice(_countsOffset, _counts.Length);
        var weights = _masses.IsEmpty ? _counts : _masses;                  // what weighs the task rows: nₜ⁽ʳ⁾ or Dₜ⁽ʳ⁾
        var globalWeights = _masses.IsEmpty ? globalCounts : _buffer.Slice(_massesOffset, _masses.Length);
        for (int i = 0; i < _parts.Length; i++)
        {
            var (values, weight, first, tasks) = _parts[i];
            var slot = _buffer.Slice(_offsets[i], values.Length);
            _backend.Copy(values, slot);
            if (CountWeighted && weight == ExchangeWeight.TaskMean)
            {
                int width = values.Length / tasks;
                for (int k = 0; k < tasks; k++)                              // nₜ⁽ʳ⁾·xₜ (or Dₜ⁽ʳ⁾·xₜ), read on the device
                    _backend.ScaleByScalar(slot.Slice(k * width, width), weights.Slice(first + k, 1), slot.Slice(k * width, width), accumulate: false);
            }
        }
        _backend.Copy(_counts, globalCounts);
        if (!_masses.IsEmpty) _backend.Copy(_masses, globalWeights);
        if (!CountWeighted && rows != globalRows && _meanLength > 0)
            _backend.Scale(_buffer.Slice(0, _meanLength), (float)((double)rows / globalRows));

        Communicator.AllReduceSum(Buffer);

        for (int i = 0; i < _parts.Length; i++)
        {
            var (values, weight, first, tasks) = _parts[i];
            var slot = _buffer.Slice(_offsets[i], values.Length);
            if (CountWeighted && weight == ExchangeWeight.TaskMean)
                _backend.DivideByCount(slot, globalWeights.Slice(first, tasks), values);   // Σᵣ nₜ⁽ʳ⁾xₜ⁽ʳ⁾ / Nₜ (or by Dₜ), 0 when 0
            else _backend.Copy(slot, values);
        }
        _backend.Copy(globalCounts, _counts);
        if (!_masses.IsEmpty) _backend.Copy(globalWeights, _masses);
    }

    /// <summary>Frees the buffer.</summary>
    public void Dispose() => _buffer.Dispose();
}
