using System.Diagnostics;
using Engine.Data;
using Engine.Kernels;
using Engine.Training;

namespace Engine.Bench.Soak;

/// <summary>What a soak run does: <see cref="Steps"/> training steps of the small workload through
/// <see cref="Trainer.Fit"/>, in epochs of <see cref="StepsPerEpoch"/> steps, sampled <see cref="Samples"/> times.</summary>
public sealed record SoakOptions
{
    /// <summary>Training steps in all (a whole number of epochs).</summary>
    public long Steps { get; init; } = 1_000_000;

    /// <summary>Steps per epoch (the data has 64 rows per step).</summary>
    public int StepsPerEpoch { get; init; } = 1000;

    /// <summary>Samples after the start (evenly spaced in epochs).</summary>
    public int Samples { get; init; } = 20;

    /// <summary>The share of the steps that is warm-up: the verdict compares the samples after it with the first one after it.</summary>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>How much the managed heap (after a full collection) may exceed its size at the end of warm-up.</summary>
    public long HeapSlackBytes { get; init; } = 1 << 20;

    /// <summary>How much an interval may allocate beyond the first interval after warm-up (relative part: 5 %).</summary>
    public long AllocationSlackBytes { get; init; } = 64 << 10;
}

/// <summary>One sample: steps done, wall time, the managed heap after a full collection, the bytes allocated so far by
/// this thread and by all threads, and the process working set.</summary>
public sealed record SoakSample(long Steps, TimeSpan Elapsed, long HeapBytes, long ThreadAllocatedBytes, long AllocatedBytes, long WorkingSetBytes);

/// <summary>The samples and the verdict.</summary>
public sealed record SoakResult(IReadOnlyList<SoakSample> Samples, int Warmup, bool Passed, string Verdict)
{
    /// <summary>Bytes allocated per step (all threads) from the end of warm-up to the end: the trainer's per-epoch work
    /// (permutation, statistics, report) spread over the epoch's steps; the step itself allocates nothing (AllocationTests).</summary>
    public double AllocatedBytesPerStep
    {
        get
        {
            var (w, e) = (Samples[Warmup], Samples[^1]);
            return e.Steps == w.Steps ? 0 : (double)(e.AllocatedBytes - w.AllocatedBytes) / (e.Steps - w.Steps);
        }
    }
}

/// <summary>
/// The soak benchmark of issue 16: a long run of small training steps through the real <see cref="Trainer"/> and
/// <see cref="TrainingStep"/> path, with memory sampled as it goes, and a verdict on whether memory stayed flat after
/// warm-up. Not a timed test: the verdict reads bytes only; wall time is reported. `Bench -- soak` prints it
/// (Bench/README.md); Tests/Bench/SoakTests.cs runs the harness on a few thousand steps.
/// </summary>
public static class Soak
{
    /// <summary>Rows per step (the small workload's batch), inputs and trunk.</summary>
    public const int Batch = 64, Inputs = 8;

    /// <summary>Trains the small workload (8 → 64 → 64, two regression heads, batch 64, Adam 1e-3, clip 1.0, sum) on
    /// <paramref name="backend"/> for <see cref="SoakOptions.Steps"/> steps, sampling as it goes.</summary>
    public static SoakResult Run(SoakOptions options, Backend<float> backend, Action<SoakSample>? sampled = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backend);
        if (options.StepsPerEpoch <= 0 || options.Steps < options.StepsPerEpoch || options.Steps % options.StepsPerEpoch != 0)
            throw new ArgumentException($"--steps ({options.Steps}) must be a positive multiple of --steps-per-epoch ({options.StepsPerEpoch}).", nameof(options));
        long epochs = options.Steps / options.StepsPerEpoch;
        if (epochs > int.MaxValue) throw new ArgumentException("Too many epochs.", nameof(options));
        int samples = (int)Math.Clamp(options.Samples, 2, epochs);
        int interval = (int)(epochs / samples);

        var spec = new ModelSpec(Inputs, [64, 64], [TaskHead.Regression("r0"), TaskHead.Regression("r1")]) { Seed = 1 };
        using var model = MultiTaskModel.Create(spec, backend);
        var data = Data(options.StepsPerEpoch * Batch);
        var trainer = new Trainer(new TrainerOptions
        {
            Epochs = (int)epochs,
            BatchSize = Batch,
            Seed = 2,
            MaxHistory = 16,
            Step = new StepOptions { Optimizer = OptimizerKind.Adam, LearningRate = 1e-3, MaxGradNorm = 1.0 },
        });

        var list = new List<SoakSample>(samples + 2);
        var clock = Stopwatch.StartNew();
        void Take(long steps)
        {
            long thread = GC.GetAllocatedBytesForCurrentThread();   // first: the sample's own work is not counted before it
            long all = GC.GetTotalAllocatedBytes(precise: true);
            var sample = new SoakSample(steps, clock.Elapsed, GC.GetTotalMemory(forceFullCollection: true), thread, all, Environment.WorkingSet);
            list.Add(sample);
            sampled?.Invoke(sample);
        }
        Take(0);
        trainer.Fit(model, data, progress: new Sampler(e => { if (e.Epoch % interval == 0 || e.Epoch == epochs) Take((long)e.Epoch * options.StepsPerEpoch); }));
        int warmup = list.FindIndex(s => s.Steps >= options.WarmupFraction * options.Steps && s.Steps > 0);
        if (warmup < 0 || warmup >= list.Count - 1) warmup = Math.Max(1, list.Count - 2);
        var (passed, verdict) = Judge(list, warmup, options.HeapSlackBytes, options.AllocationSlackBytes);
        return new SoakResult(list, warmup, passed, verdict);
    }

    /// <summary>
    /// The verdict on <paramref name="samples"/> with sample <paramref name="warmup"/> the end of warm-up: flat when
    /// (1) no later sample's heap exceeds the warm-up one's by more than <paramref name="heapSlack"/> bytes, and (2) no
    /// later interval allocates (all threads, and this thread) more per step than the first interval after warm-up,
    /// by more than 5 % plus <paramref name="allocationSlack"/> bytes per interval. Bytes only; time is not judged.
    /// </summary>
    public static (bool Passed, string Verdict) Judge(IReadOnlyList<SoakSample> samples, int warmup, long heapSlack, long allocationSlack)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (warmup < 0 || warmup >= samples.Count - 1) throw new ArgumentOutOfRangeException(nameof(warmup), warmup, "Warm-up must end before the last sample.");
        var problems = new List<string>();
        var w = samples[warmup];
        for (int i = warmup + 1; i < samples.Count; i++)
            if (samples[i].HeapBytes - w.HeapBytes > heapSlack)
            {
                problems.Add($"the managed heap grew by {samples[i].HeapBytes - w.HeapBytes:N0} bytes from step {w.Steps:N0} to step {samples[i].Steps:N0} (slack {heapSlack:N0})");
                break;
            }
        foreach (var (name, read) in new (string, Func<SoakSample, long>)[] { ("all threads", s => s.AllocatedBytes), ("this thread", s => s.ThreadAllocatedBytes) })
        {
            double PerStep(int i) => (double)(read(samples[i]) - read(samples[i - 1])) / Math.Max(1, samples[i].Steps - samples[i - 1].Steps);
            double baseline = PerStep(warmup + 1);
            for (int i = warmup + 2; i < samples.Count; i++)
            {
                long steps = Math.Max(1, samples[i].Steps - samples[i - 1].Steps);
                if (PerStep(i) > 1.05 * baseline + (double)allocationSlack / steps)
                {
                    problems.Add($"allocation ({name}) grew: {PerStep(i):F1} bytes per step from step {samples[i - 1].Steps:N0} to {samples[i].Steps:N0}, against {baseline:F1} just after warm-up");
                    break;
                }
            }
        }
        return problems.Count == 0
            ? (true, $"flat: heap within {heapSlack:N0} bytes of step {w.Steps:N0} and no interval allocating more per step than the first after warm-up")
            : (false, string.Join("; ", problems));
    }

    /// <summary>Seeded rows: x ~ U(−1, 1)⁸, r0 = x₀ − 0.5x₁ + 0.25x₂x₃, r1 = tanh(x₄ + x₅) − 0.3x₆.</summary>
    public static TrainingData Data(int rows)
    {
        var random = new Random(3);
        var x = new float[rows * Inputs];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var r0 = new float[rows];
        var r1 = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var v = x.AsSpan(r * Inputs, Inputs);
            r0[r] = v[0] - 0.5f * v[1] + 0.25f * v[2] * v[3];
            r1[r] = MathF.Tanh(v[4] + v[5]) - 0.3f * v[6];
        }
        return new TrainingData(x, Inputs, [TaskData.Regression("r0", r0), TaskData.Regression("r1", r1)]);
    }

    private sealed class Sampler(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => report(value);
    }
}
