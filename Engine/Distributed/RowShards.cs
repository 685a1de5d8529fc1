namespace Engine.Distributed;

/// <summary>
/// Which rows each rank trains on, and how many rows each rank has in each step, computed identically on every rank
/// with no communication.
/// <para><b>Shards.</b> A seeded permutation of the n rows is cut into P consecutive blocks, the first n mod P one row
/// longer (sizes ⌊n/P⌋ or ⌈n/P⌉); rank r keeps block r in ascending row order (so one rank keeps the rows in file order,
/// and a one-rank run reads exactly what a plain run reads). The same seed gives the same shards on every run.</para>
/// <para><b>Steps.</b> With a local batch b, every rank takes S = ⌈n_min / b⌉ steps per epoch (n_min the smallest
/// shard): b rows in each step but the last, whose batch takes the rest of the shard, n_r − (S−1)·b ∈ [1, b + 1] rows.
/// So no rank ever has an empty batch and all ranks call the collective equally often. The global batch of a step is
/// the sum over ranks; each rank's contribution is weighted by its share of it (maths §20).</para>
/// </summary>
public sealed class RowShards
{
    private readonly int[] _sizes;

    /// <summary>Shards of <paramref name="rows"/> rows over <paramref name="ranks"/> ranks, permuted by <paramref name="seed"/>.</summary>
    public RowShards(int rows, int ranks, ulong seed)
    {
        if (ranks <= 0) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "The number of ranks must be positive.");
        if (rows < ranks) throw new ArgumentException($"{rows} rows cannot be split over {ranks} ranks: every rank needs at least one row.", nameof(rows));
        Rows = rows;
        Ranks = ranks;
        Seed = seed;
        _sizes = new int[ranks];
        for (int r = 0; r < ranks; r++) _sizes[r] = rows / ranks + (r < rows % ranks ? 1 : 0);
    }

    /// <summary>The shard seed <see cref="Training.Trainer"/> uses for a run seeded <paramref name="runSeed"/>
    /// (distinct from the epochs' shuffle seeds), so that a caller can know which rows each rank trains on.</summary>
    public static ulong SeedFor(ulong runSeed) => runSeed ^ 0xD1B54A32D192ED03UL;

    /// <summary>Rows in all.</summary>
    public int Rows { get; }

    /// <summary>Ranks.</summary>
    public int Ranks { get; }

    /// <summary>The permutation's seed.</summary>
    public ulong Seed { get; }

    /// <summary>Rows of rank <paramref name="rank"/>'s shard.</summary>
    public int Size(int rank) => _sizes[rank];

    /// <summary>The row indices of rank <paramref name="rank"/>'s shard, ascending. A single rank gets 0 … n−1 without
    /// drawing a permutation.</summary>
    public int[] RowsOf(int rank)
    {
        if ((uint)rank >= (uint)Ranks) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Ranks are 0 … {Ranks - 1}.");
        if (Ranks == 1) return [.. Enumerable.Range(0, Rows)];
        var permutation = Engine.Data.DataSplit.Permutation(Rows, Seed);
        int start = 0;
        for (int r = 0; r < rank; r++) start += _sizes[r];
        var rows = permutation.AsSpan(start, _sizes[rank]).ToArray();
        Array.Sort(rows);
        return rows;
    }

    /// <summary>Steps per epoch with local batch <paramref name="batch"/> (0 = the whole shard).</summary>
    public int Steps(int batch) => batch <= 0 ? 1 : (_sizes.Min() + batch - 1) / batch;

    /// <summary>Rows rank <paramref name="rank"/> trains on in step <paramref name="step"/> of an epoch.</summary>
    public int StepRows(int rank, int step, int batch)
    {
        int steps = Steps(batch);
        if ((uint)step >= (uint)steps) throw new ArgumentOutOfRangeException(nameof(step), step, $"An epoch has {steps} steps.");
        if (batch <= 0) return _sizes[rank];
        return step < steps - 1 ? batch : _sizes[rank] - (steps - 1) * batch;
    }

    /// <summary>The global batch of step <paramref name="step"/>: Σ over ranks of <see cref="StepRows"/>.</summary>
    public int GlobalStepRows(int step, int batch)
    {
        int total = 0;
        for (int r = 0; r < Ranks; r++) total += StepRows(r, step, batch);
        return total;
    }

    /// <summary>The largest batch any rank takes (a step is prepared for it): b, or b + 1 when shard sizes differ.</summary>
    public int MaxStepRows(int batch)
    {
        int max = 0;
        for (int r = 0; r < Ranks; r++)
            for (int s = Math.Max(0, Steps(batch) - 2); s < Steps(batch); s++) max = Math.Max(max, StepRows(r, s, batch));
        return max;
    }
}
