using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>What a <see cref="GradientConflictMonitor{T}"/> saw, read at report time.</summary>
/// <param name="Tasks">Number of tasks T.</param>
/// <param name="Steps">Steps observed.</param>
/// <param name="Cosines">cos(gᵢ, gⱼ) of the last observed step, T×T row-major (0 where a gradient was zero).</param>
/// <param name="Conflicts">For i ≠ j, the number of observed steps with gᵢ·gⱼ &lt; 0, T×T row-major (symmetric).</param>
/// <param name="CosineSums">Σ over the observed steps of cos(gᵢ, gⱼ), T×T row-major (a step where gᵢ or gⱼ is zero adds 0).</param>
/// <param name="Present">For each pair, the number of observed steps where both gᵢ and gⱼ were non-zero (the steps whose
/// cosine is defined), T×T row-major; the diagonal counts the steps where task i had a gradient at all. The mean over a
/// range of steps is the difference of two reports' sums over the difference of their counts: <see cref="MeanCosinesSince"/>.</param>
public sealed record GradientConflictReport(int Tasks, long Steps, double[] Cosines, int[] Conflicts, double[] CosineSums, int[] Present)
{
    /// <summary>The mean cos(gᵢ, gⱼ), per entry, over the steps observed after <paramref name="baseline"/> (null: since the
    /// start) where both gᵢ and gⱼ were non-zero, T×T row-major: a step where a task had no labelled row (a zero gradient)
    /// does not count for its pairs, so the diagonal is 1 for every task that had a gradient in the range. 0 for a pair
    /// never present in the range; the last step's cosines when no step was observed since.</summary>
    public double[] MeanCosinesSince(GradientConflictReport? baseline)
    {
        long steps = Steps - (baseline?.Steps ?? 0);
        if (steps <= 0) return Cosines;
        var mean = new double[CosineSums.Length];
        for (int k = 0; k < mean.Length; k++)
        {
            int present = Present[k] - (baseline?.Present[k] ?? 0);
            mean[k] = present > 0 ? (CosineSums[k] - (baseline?.CosineSums[k] ?? 0)) / present : 0.0;
        }
        return mean;
    }

    /// <summary>cos(gᵢ, gⱼ) at the last observed step.</summary>
    public double Cosine(int i, int j) => Cosines[i * Tasks + j];

    /// <summary>Fraction of observed steps in which tasks i and j conflicted.</summary>
    public double ConflictRate(int i, int j) => Steps == 0 ? 0 : (double)Conflicts[i * Tasks + j] / Steps;
}

/// <summary>
/// Gradient-conflict diagnostics from the Gram matrix: pairwise cosine similarities and a running per-pair count of
/// conflicting steps, the running sums of the cosines and per-pair counts of the steps where both gradients were non-zero
/// (their mean is over those steps), kept on the device (one tiny kernel and one axpy per step) and read by the host only in
/// <see cref="Report"/>.
/// Feed it the Gram matrix a <see cref="GradientCombiner{T}"/> already computed (<see cref="Observe(View{T})"/>), or
/// the task gradients themselves (<see cref="ObserveGradients"/>, one extra Gram pass).
/// </summary>
public sealed class GradientConflictMonitor<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Backend<T> _backend;
    private readonly DeviceBuffer<T> _cosines, _gram, _cosineSums;
    private readonly DeviceBuffer<int> _conflicts, _present;

    public GradientConflictMonitor(Backend<T> backend, int tasks)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Check.Positive(tasks, nameof(tasks));
        _backend = backend;
        Tasks = tasks;
        _cosines = backend.Allocate<T>(tasks * tasks);
        _gram = backend.Allocate<T>(tasks * tasks);
        _cosineSums = backend.Allocate<T>(tasks * tasks);
        _backend.Fill(_cosineSums.View, T.Zero);
        _conflicts = backend.Allocate<int>(new int[tasks * tasks]);
        _present = backend.Allocate<int>(new int[tasks * tasks]);
        _backend.Upload(new T[tasks * tasks], _cosines.View);
    }

    /// <summary>Number of tasks.</summary>
    public int Tasks { get; }

    /// <summary>Steps observed so far (counted on the host; no device read).</summary>
    public long Steps { get; private set; }

    /// <summary>Records one step from its Gram matrix (tasks × tasks, on the device).</summary>
    public void Observe(View<T> gram)
    {
        Check.Length(gram, (long)Tasks * Tasks, nameof(gram));
        _backend.GradientDiagnostics(gram, Tasks, _cosines.View, _conflicts.View, _present.View); // counts the pairs present
        _backend.Axpy(T.One, _cosines.View, _cosineSums.View); // for the epoch's mean (an absent pair adds its cosine 0)
        Steps++;
    }

    /// <summary>Records one step from the task gradients (tasks × P), computing their Gram matrix first.</summary>
    public void ObserveGradients(View<T> taskGradients)
    {
        if (taskGradients.Length % Tasks != 0)
            throw new ArgumentException($"taskGradients has {taskGradients.Length} elements, not a multiple of {Tasks} tasks.", nameof(taskGradients));
        _backend.Gram(taskGradients, Tasks, taskGradients.Length / Tasks, _gram.View);
        Observe(_gram.View);
    }

    /// <summary>Downloads the cosines and conflict counts (reporting time only: this waits for the device).</summary>
    public GradientConflictReport Report()
    {
        var cosines = _backend.ToArray(_cosines.View);
        return new GradientConflictReport(Tasks, Steps, Array.ConvertAll(cosines, double.CreateTruncating), _backend.ToArray(_conflicts.View),
            Array.ConvertAll(_backend.ToArray(_cosineSums.View), double.CreateTruncating), _backend.ToArray(_present.View));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _cosines.Dispose();
        _gram.Dispose();
        _cosineSums.Dispose();
        _conflicts.Dispose();
        _present.Dispose();
    }
}
