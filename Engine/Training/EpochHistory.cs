namespace Engine.Training;

/// <summary>
/// The per-epoch reports of a run, in bounded memory: at most <see cref="Capacity"/> of them, evenly spaced. While the
/// run is short every epoch is kept (stride 1); when the list fills up, every other report is dropped and the stride
/// doubles, so a run of a million epochs keeps about <see cref="Capacity"/> reports, every s-th (s a power of two),
/// spanning the whole run. The last epoch is always kept. Memory is O(Capacity), whatever the epoch count.
/// </summary>
public sealed class EpochHistory
{
    private readonly List<EpochReport> _kept = [];
    private EpochReport? _last;

    /// <summary>A history of at most <paramref name="capacity"/> (≥ 2) reports.</summary>
    public EpochHistory(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        Capacity = capacity;
    }

    /// <summary>The most reports kept.</summary>
    public int Capacity { get; }

    /// <summary>Only every Stride-th epoch is kept (1 until the run outgrows <see cref="Capacity"/>).</summary>
    public int Stride { get; private set; } = 1;

    /// <summary>Epochs reported in all.</summary>
    public int Epochs { get; private set; }

    /// <summary>Adds an epoch's report (epochs in order, 1-based).</summary>
    public void Add(EpochReport report)
    {
        Epochs++;
        _last = report;
        if (report.Epoch % Stride != 0) return;
        _kept.Add(report);
        if (_kept.Count < Capacity) return;
        Stride *= 2;
        _kept.RemoveAll(r => r.Epoch % Stride != 0);
    }

    /// <summary>The kept reports in epoch order, the last epoch included.</summary>
    public IReadOnlyList<EpochReport> Reports()
    {
        if (_last is null || (_kept.Count > 0 && ReferenceEquals(_kept[^1], _last))) return [.. _kept];
        return [.. _kept, _last];
    }
}
