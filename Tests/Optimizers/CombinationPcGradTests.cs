using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Optimizers;

/// <summary>PCGrad: hand-derived 2- and 3-task cases, the seeded order, a float64 reference on random data, parity.</summary>
public class CombinationPcGradTests
{
    [Fact]
    public void Non_conflicting_gradients_are_left_unchanged()
    {
        var backend = TestDevices.Reference;
        using var combiner = new PcGradCombiner<double>(backend, tasks: 2, seed: 1);
        // (1, 0)·(1, 1) = 1 ≥ 0: nothing projected, sum = (2, 1).
        Tolerance.AllClose([2, 1], Run(backend, combiner, [[1, 0], [1, 1]], [1, 1]), 0, 1e-15);
    }

    [Fact]
    public void Two_conflicting_tasks_by_hand_sum_and_mean()
    {
        var backend = TestDevices.Reference;
        // g₁ = (1, 0), g₂ = (−1, 1): g₁·g₂ = −1 < 0.
        // g₁' = g₁ − (−1/‖g₂‖²)g₂ = (1, 0) + ½(−1, 1) = (0.5, 0.5)   (g₁'·g₂ = 0)
        // g₂' = g₂ − (−1/‖g₁‖²)g₁ = (−1, 1) + (1, 0) = (0, 1)         (g₂'·g₁ = 0)
        // sum = (0.5, 1.5); mean = (0.25, 0.75). Each is projected against the OTHER's original gradient.
        using var sum = new PcGradCombiner<double>(backend, tasks: 2, seed: 3, PcGradReduction.Sum);
        Tolerance.AllClose([0.5, 1.5], Run(backend, sum, [[1, 0], [-1, 1]], [1, 1]), 0, 1e-15);
        using var mean = new PcGradCombiner<double>(backend, tasks: 2, seed: 3, PcGradReduction.Mean);
        Tolerance.AllClose([0.25, 0.75], Run(backend, mean, [[1, 0], [-1, 1]], [1, 1]), 0, 1e-15);
        // Weights scale each (projected) gradient: 2·(0.5, 0.5) + 1·(0, 1) = (1, 2).
        using var weighted = new PcGradCombiner<double>(backend, tasks: 2, seed: 3);
        Tolerance.AllClose([1, 2], Run(backend, weighted, [[1, 0], [-1, 1]], [2, 1]), 0, 1e-15);
    }

    /// <summary>
    /// g₁ = (1, 0), g₂ = (−1, 1), g₃ = (−1, −1). Dots: g₁·g₂ = −1, g₁·g₃ = −1, g₂·g₃ = 0.
    /// Task 1, either order: against g₂ first: (1,0) + ½(−1,1) = (0.5, 0.5); ·g₃ = −1 → (0.5,0.5) + ½(−1,−1) = (0, 0);
    ///   against g₃ first: (1,0) + ½(−1,−1) = (0.5, −0.5); ·g₂ = −1 → (0.5,−0.5) + ½(−1,1) = (0, 0). Both give (0, 0).
    /// (Each step is g ← g − (g·gⱼ/‖gⱼ‖²)gⱼ with ‖gⱼ‖² = 2, so a dot of −1 adds ½gⱼ.)
    /// Task 2: order [1, 3]: (−1,1) + (1,0) = (0, 1); ·g₃ = −1 &lt; 0 → (0,1) + ½(−1,−1) = (−0.5, 0.5).
    ///         order [3, 1]: ·g₃ = 0, no conflict; then against g₁: (0, 1); ·g₃ is never revisited → (0, 1).
    /// Task 3: order [1, 2]: (−1,−1) + (1,0) = (0, −1); ·g₂ = −1 → (0,−1) + ½(−1, 1) = (−0.5, −0.5).
    ///         order [2, 1]: ·g₂ = 0, skip; against g₁: (0, −1).
    /// </summary>
    private static double[] HandDerivedThreeTasks(uint key)
    {
        Span<int> order = stackalloc int[2];
        CombinationSolver.PcGradOrder(key, 1, 3, order);
        double[] task2 = order[0] == 0 ? [-0.5, 0.5] : [0, 1];
        CombinationSolver.PcGradOrder(key, 2, 3, order);
        double[] task3 = order[0] == 0 ? [-0.5, -0.5] : [0, -1];
        return [task2[0] + task3[0], task2[1] + task3[1]];
    }

    private static readonly double[][] ThreeTasks = [[1, 0], [-1, 1], [-1, -1]];

    [Fact]
    public void Three_tasks_by_hand_follow_the_seeded_order()
    {
        var backend = TestDevices.Reference;
        var seen = new HashSet<string>();
        for (int seed = 0; seed < 12; seed++)
        {
            using var combiner = new PcGradCombiner<double>(backend, tasks: 3, seed);
            for (int step = 0; step < 3; step++)
            {
                var expected = HandDerivedThreeTasks(PcGradCombiner<double>.RandomKey(seed, step));
                var actual = Run(backend, combiner, ThreeTasks, [1, 1, 1]);
                Tolerance.AllClose(expected, actual, 0, 1e-15, $"seed {seed} step {step}");
                seen.Add(string.Join(",", actual));
            }
        }
        Assert.True(seen.Count >= 3, $"the random order should produce several of the 4 outcomes; saw {seen.Count}");
    }

    [Fact]
    public void The_same_seed_reproduces_the_same_sequence()
    {
        var backend = TestDevices.Reference;
        var g = RandomGradients(5, 64, seed: 9);
        // Make conflicts likely: flip two tasks partly against the first.
        for (int k = 0; k < 64; k++) { g[1][k] -= 1.2 * g[0][k]; g[3][k] -= 0.8 * g[2][k]; }
        using var a = new PcGradCombiner<double>(backend, tasks: 5, seed: 42);
        using var b = new PcGradCombiner<double>(backend, tasks: 5, seed: 42);
        for (int step = 0; step < 5; step++)
            Assert.Equal(Run(backend, a, g, [1, 1, 1, 1, 1]), Run(backend, b, g, [1, 1, 1, 1, 1]));
    }

    [Fact]
    public void Random_case_matches_a_float64_reference_on_the_vectors()
    {
        var backend = TestDevices.Reference;
        var g = RandomGradients(4, 101, seed: 17);
        for (int k = 0; k < 101; k++) { g[1][k] -= g[0][k]; g[2][k] -= 0.5 * g[3][k]; }
        double[] w = [1, 2, 0.5, 1.5];
        using var combiner = new PcGradCombiner<double>(backend, tasks: 4, seed: 5, PcGradReduction.Mean);
        var actual = Run(backend, combiner, g, w);

        // Reference: PCGrad on the weighted vectors directly (Yu et al.'s pseudo-code), the kernel's order.
        uint key = PcGradCombiner<double>.RandomKey(5, 0);
        var weighted = g.Select((row, i) => row.Select(x => w[i] * x).ToArray()).ToArray();
        var expected = new double[101];
        Span<int> order = stackalloc int[3];
        for (int i = 0; i < 4; i++)
        {
            var gi = (double[])weighted[i].Clone();
            CombinationSolver.PcGradOrder(key, i, 4, order);
            foreach (int j in order)
            {
                double d = Dot(gi, weighted[j]);
                if (d < 0) gi = Axpy(-d / Dot(weighted[j], weighted[j]), weighted[j], gi);
            }
            for (int k = 0; k < 101; k++) expected[k] += gi[k] / 4;
        }
        Tolerance.AllClose(expected, actual, 1e-12, 1e-13);
    }

    [Fact]
    public void Zero_gradients_give_no_NaN()
    {
        var backend = TestDevices.Reference;
        using var combiner = new PcGradCombiner<double>(backend, tasks: 2);
        Tolerance.AllClose([-1, 1], Run(backend, combiner, [[0, 0], [-1, 1]], [1, 1]), 0, 0);
        Tolerance.AllClose([0, 0, 0], Run(backend, combiner, [[0, 0, 0], [0, 0, 0]], [1, 1]), 0, 0);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_with_the_same_order(string device)
    {
        var backend = TestDevices.Get(device);
        var g = RandomGradients(4, 33, seed: 23);
        for (int k = 0; k < 33; k++) { g[1][k] -= g[0][k]; g[3][k] -= 0.7 * g[2][k]; }
        g = g.Select(r => Tolerance.ToDouble(Tolerance.ToFloat(r))).ToArray();
        double[] w = [1, 0.5, 1, 2];
        using var c32 = new PcGradCombiner<float>(backend, tasks: 4, seed: 8);
        using var c64 = new PcGradCombiner<double>(TestDevices.Reference, tasks: 4, seed: 8);
        for (int step = 0; step < 3; step++) // same key sequence on both devices
            Tolerance.AllClose(Run(TestDevices.Reference, c64, g, w), Run(backend, c32, g, w), 1e-4, 1e-5, $"{device} step {step}");
    }

    /// <summary>The step count is the combiner's state, on the device (<see cref="IMethodState{T}.Float64StateBuffers"/>,
    /// <c>pcgrad.steps</c>): T = 4 with conflicts (so the order of the others changes the update), 3 steps, the count copied
    /// into a fresh combiner, 3 more steps there give the updates of 6 uninterrupted steps bit for bit, on every device;
    /// a fresh combiner without the count differs (the test can tell). Another task count is refused by name.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Its_step_count_carries_the_order_so_a_copy_continues_exactly(string device)
    {
        var backend = TestDevices.Get(device);
        const int tasks = 4;
        double[] w = [1, 0.5, 2, 1.5];
        var g = Enumerable.Range(0, 6).Select(s =>
        {
            var step = RandomGradients(tasks, 50, seed: 700 + s);
            for (int k = 0; k < 50; k++) { step[1][k] -= 1.1 * step[0][k]; step[3][k] -= 0.9 * step[2][k]; step[2][k] -= 0.6 * step[0][k]; }
            return step;
        }).ToArray();
        using var whole = new PcGradCombiner<float>(backend, tasks, seed: 9);
        using var first = new PcGradCombiner<float>(backend, tasks, seed: 9);
        using var resumed = new PcGradCombiner<float>(backend, tasks, seed: 9);
        using var fresh = new PcGradCombiner<float>(backend, tasks, seed: 9);
        var expected = g.Select(step => Run(backend, whole, step, w)).ToArray();
        for (int s = 0; s < 3; s++) Run(backend, first, g[s], w);
        Assert.Equal(["pcgrad.steps"], first.Float64StateBuffers.Select(b => b.Name));
        Assert.Empty(first.StateBuffers);
        Assert.Equal(3, first.Step);
        Assert.Equal([3.0], backend.ToArray(first.Float64StateBuffers[0].Values));
        backend.Upload<double>(backend.ToArray(first.Float64StateBuffers[0].Values), resumed.Float64StateBuffers[0].Values);
        for (int s = 3; s < 6; s++)
        {
            Assert.Equal(expected[s], Run(backend, resumed, g[s], w));
            if (s == 3) Assert.NotEqual(expected[s], Run(backend, fresh, g[s], w));
        }
        Assert.Equal(6, resumed.Step);
        Assert.Contains("4 tasks", Assert.Throws<ArgumentException>(() => Run(backend, whole, g[0][..3], [1, 1, 1])).Message);
    }
}
