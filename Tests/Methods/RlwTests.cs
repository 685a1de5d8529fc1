using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>rlw</c> (Lin et al. 2021): λ = softmax(z), z ~ N(0, I) each step. The draws against a float64 reimplementation
/// written here from SplitMix64's published definition and Box–Muller, on every device; the properties the paper
/// states (positive weights summing to 1, expectation 1/T by symmetry, for T = 2 the law of σ(z₁ − z₂)); seeded
/// reproducibility; training through the registry with no allocation per step.
/// </summary>
public sealed class RlwTests
{
    // ---- the reference, written apart from Kernels/Combination/CounterRandom.cs --------------------------------------

    internal static ulong SplitMix64Finaliser(ulong x)
    {
        x ^= x >> 30; x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27; x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x;
    }

    private static double ReferenceUniform(ulong seed, long step, int index, int lane)
    {
        ulong counter = unchecked((ulong)step * 0x9E3779B97F4A7C15UL + (ulong)index * 2 + (ulong)lane);   // the counter is 2·index + lane in 64 bits
        ulong bits = SplitMix64Finaliser(seed ^ SplitMix64Finaliser(counter)) >> 11;   // 53 bits
        return (bits + 0.5) / Math.Pow(2, 53);
    }

    private static double ReferenceNormal(ulong seed, long step, int index) =>
        Math.Sqrt(-2 * Math.Log(ReferenceUniform(seed, step, index, 0))) * Math.Cos(2 * Math.PI * ReferenceUniform(seed, step, index, 1));

    private static double[] ReferenceWeights(ulong seed, long step, int tasks)
    {
        var z = Enumerable.Range(0, tasks).Select(i => ReferenceNormal(seed, step, i)).ToArray();
        var e = z.Select(v => Math.Exp(v - z.Max())).ToArray();
        return [.. e.Select(v => v / e.Sum())];
    }

    [Fact]
    public void The_generator_matches_the_reference_bit_for_bit_and_is_standard_normal()
    {
        for (long step = 0; step < 50; step++)
            for (int i = 0; i < 4; i++)
                Assert.Equal(ReferenceNormal(42, step, i), CounterRandom.Normal(42, step, i));
        // Indices at and past 2³⁰, where 2·index overflows an int: still the reference's 64-bit counter.
        foreach (int i in new[] { 1 << 30, (1 << 30) + 1, int.MaxValue })
            for (int lane = 0; lane < 2; lane++)
                Assert.Equal(ReferenceUniform(42, 3, i, lane), CounterRandom.Uniform(42, 3, i, lane));
        // 200 000 draws: mean 0 ± 0.01, variance 1 ± 0.02, P(z < 1) = Φ(1) = 0.8413 ± 0.005 (several standard errors).
        var z = Enumerable.Range(0, 200_000).Select(k => CounterRandom.Normal(7, k / 4, k % 4)).ToArray();
        double mean = z.Average(), variance = z.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(variance, 0.98, 1.02);
        Assert.InRange(z.Count(v => v < 1) / (double)z.Length, 0.8363, 0.8463);
    }

    /// <summary>float32 weights of a float64 computation: 1e-6 relative.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Weights_match_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int tasks in new[] { 1, 2, 5 })
        {
            using var weights = backend.Allocate<float>(tasks);
            using var steps = backend.Allocate<double>(1);
            foreach (long step in new long[] { 0, 1, 17, 123_456_789 })
            {
                backend.Upload<double>([step], steps.View);
                backend.RandomSoftmaxWeights(99, steps.View, weights.View);
                Assert.Equal([step + 1.0], backend.ToArray(steps.View));   // the kernel drew with s and advanced it
                Tolerance.AllClose(ReferenceWeights(99, step, tasks), backend.ToArray(weights.View), 1e-6, 1e-9, $"T = {tasks}, step {step}");
            }
        }
    }

    /// <summary>The paper's weights: λ in the open simplex every step; E[λᵢ] = 1/T (z is symmetric); for T = 2,
    /// λ₁ = σ(z₁ − z₂) with z₁ − z₂ ~ N(0, 2), so E[λ₁²] = ∫ σ(√2·x)² φ(x) dx (by quadrature here).
    /// 20 000 steps of the weighting itself (a seeded stream: no flakiness), tolerances several standard errors.</summary>
    [Fact]
    public void Weights_lie_in_the_simplex_with_mean_one_over_T_and_the_law_of_a_logistic_normal()
    {
        var backend = TestDevices.Reference;
        const int steps = 20_000;
        foreach (int tasks in new[] { 2, 3 })
        {
            using var weighting = new RandomLossWeighting<double>(backend, tasks, seed: 11);
            var sums = new double[tasks];
            double square = 0;
            for (int s = 0; s < steps; s++)
            {
                weighting.Update(default);
                var w = backend.ToArray(weighting.Weights);
                Assert.All(w, v => Assert.True(v > 0 && v < 1));
                Assert.Equal(1.0, w.Sum(), 1e-12);
                for (int i = 0; i < tasks; i++) sums[i] += w[i];
                square += w[0] * w[0];
            }
            foreach (double sum in sums) Assert.InRange(sum / steps, 1.0 / tasks - 0.01, 1.0 / tasks + 0.01);
            if (tasks == 2)
            {
                double expected = 0, dx = 1e-3;                       // ∫ σ(√2 x)² φ(x) dx by the midpoint rule on [−10, 10]
                for (double x = -10 + dx / 2; x < 10; x += dx)
                    expected += Math.Pow(1 / (1 + Math.Exp(-Math.Sqrt(2) * x)), 2) * Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI) * dx;
                Assert.InRange(square / steps, expected - 0.01, expected + 0.01);            // several standard errors of a 20 000-step mean
            }
        }
    }

    [Fact]
    public void The_same_seed_draws_the_same_weights_and_another_seed_others()
    {
        var backend = TestDevices.Reference;
        double[][] Draw(int seed, int count)
        {
            using var weighting = new RandomLossWeighting<double>(backend, 3, seed);
            Assert.Equal([1.0 / 3, 1.0 / 3, 1.0 / 3], backend.ToArray(weighting.Weights));     // before the first step
            return [.. Enumerable.Range(0, count).Select(_ => { weighting.Update(default); return backend.ToArray(weighting.Weights); })];
        }
        var a = Draw(5, 10);
        Assert.Equal(a, Draw(5, 10));
        Assert.NotEqual(a[0], a[1]);                                                          // a fresh draw each step
        Assert.NotEqual(a[0], Draw(6, 1)[0]);
    }

    /// <summary>Through the registry: <c>rlw</c> and <c>rlw+mgda</c> train (loss down) with the weights of the stream,
    /// and a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("rlw")]
    [InlineData("rlw+mgda")]
    public void Rlw_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method)
    {
        // The default two CPU threads. At this size no kernel splits across them: the helper thread is never even started
        // (asserted below), so the rare allocation this check saw in 3 of 13 heavily loaded full runs (2,040–7,352 bytes over 200
        // steps, never reproduced since: forced schedules, 450 rounds under a full suite, foreign GCs, JIT churn) is not a
        // thread-scheduling one. The two-thread schedules are forced at a size that splits in AllocationTests.
        using var cpu = new CpuBackend<float>(threads: 2);
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01, CombinationSeed = 3 }, 16);
        var rlw = Assert.IsType<RandomLossWeighting<float>>(step.Weighting);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        Assert.Equal(4, rlw.Steps);
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
        Assert.False(cpu.Workers.Started);
        var w = cpu.ToArray(step.Weighting.Weights);
        Assert.Equal(1.0, w.Sum(), 1e-6);
        Assert.NotEqual(w[0], w[1]);
    }
}
