using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>gradvac</c> (Wang et al. 2021): against a float64 reference written here on the vectors (LibMTL's loop, without
/// its 1e-8), over several steps so the targets matter, on every device; against LibMTL's <c>GradVac.backward</c> in
/// PyTorch 1.13; the paper's property (after a correction the pair's cosine is its target exactly); β = 0 with zero
/// targets is PCGrad; scale invariance; training through the registry with no allocation per step.
/// </summary>
public sealed class GradVacTests
{
    // ---- the reference, written apart from Kernels/Combination/GradVacSolver.cs (vectors, not the Gram matrix)

    private static double Norm(double[] x) => Math.Sqrt(CombinationTestSupport.Dot(x, x));

    /// <summary>One step of LibMTL's loop on the weighted rows h with the targets φ (updated in place); the order of the
    /// other tasks is the kernel's (<see cref="CombinationSolver.PcGradOrder"/>, an input like GradDrop's uniforms).</summary>
    private static double[] ReferenceStep(double[][] h, double[,] phi, double beta, uint key)
    {
        int t = h.Length;
        var pc = h.Select(r => (double[])r.Clone()).ToArray();
        var order = new int[t - 1];
        for (int i = 0; i < t; i++)
        {
            CombinationSolver.PcGradOrder(key, i, t, order);
            foreach (int j in order)
            {
                double ni = Norm(pc[i]), nj = Norm(h[j]);
                double rho = ni > 0 && nj > 0 ? CombinationTestSupport.Dot(pc[i], h[j]) / (ni * nj) : 0;
                double target = phi[i, j];
                if (rho < target && nj > 0 && target < 1)
                {
                    double w = ni * (target * Math.Sqrt(1 - rho * rho) - rho * Math.Sqrt(1 - target * target)) / (nj * Math.Sqrt(1 - target * target));
                    pc[i] = CombinationTestSupport.Axpy(w, h[j], pc[i]);
                }
                phi[i, j] = (1 - beta) * target + beta * rho;
            }
        }
        var sum = new double[h[0].Length];
        foreach (var r in pc) sum = CombinationTestSupport.Axpy(1, r, sum);
        return sum;
    }

    /// <summary>LibMTL's <c>GradVac.backward</c> (whole model, β = 0.5) in PyTorch 1.13, float64, three steps of T = 2
    /// (Tests/Fixtures/make_gradvac_libmtl.py): step 1 corrects to the initial target 0 (PCGrad), step 2 has no conflict
    /// below the target, step 3 corrects to the learned target −0.199. rtol 1e-5 float32; 1e-7 float64 (LibMTL's 1e-8 in
    /// the denominators).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_GradVac_in_PyTorch(string device)
    {
        double[][][] steps =
        [
            MethodTraining.FixtureGradients()[..2],
            [[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1]],
            [[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2]],
        ];
        double[][] expected =
        [
            [0.4211913474003654, -1.288622176133583, 0.6315735849515121, -0.38297883805452704, -0.34126179870631485, 1.7862385422256248],
            [0.5725293101185351, 0.5584345454953688, 0.13846696188309002, 0.31673753328710486, 0.34492706253343774, -0.10323005032517389],
            [-0.05159537755535171, 0.5338490221896778, 0.4190764963803889, -0.5970261704436148, -0.40180835845016744, 0.8208848548305563],
        ];
        Check(TestDevices.Get(device), 1e-5, 1e-6);
        Check(TestDevices.Reference, 1e-7, 1e-8);

        void Check<T>(Backend<T> backend, double rtol, double atol) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            using var combiner = new GradVacCombiner<T>(backend, tasks: 2, beta: 0.5);
            for (int s = 0; s < 3; s++)
                Tolerance.AllClose(expected[s], CombinationTestSupport.Run(backend, combiner, steps[s], [1, 1]), rtol, atol, $"step {s + 1}");
            Assert.Equal(-0.49033280554490166, backend.ToArray(combiner.Targets)[1], 1e-7);
        }
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) and float64 against the reference over
    /// five steps (targets carried) for T = 2..6, unequal weights, β = 0.3: rtol 1e-4 + atol 1e-5·max|result| float32,
    /// 1e-10 float64; the targets too.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 2000 : 20_003;
        for (int tasks = 2; tasks <= 6; tasks++)
        {
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
            var phi = new double[tasks, tasks];
            using var fast = new GradVacCombiner<float>(backend, tasks, beta: 0.3, seed: 7);
            using var exact = new GradVacCombiner<double>(TestDevices.Reference, tasks, beta: 0.3, seed: 7);
            for (int s = 0; s < 5; s++)
            {
                var g = CombinationTestSupport.RandomGradients(tasks, length, seed: 500 + 10 * tasks + s);
                var expected = ReferenceStep(MethodTraining.Weighted(g, w), phi, 0.3, GradVacCombiner<float>.RandomKey(7, s));
                double scale = expected.Max(Math.Abs);
                Tolerance.AllClose(expected, CombinationTestSupport.Run(backend, fast, g, w), 1e-4, 1e-5 * scale, $"T = {tasks}, step {s}");
                Tolerance.AllClose(expected, CombinationTestSupport.Run(TestDevices.Reference, exact, g, w), 1e-10, 1e-12 * scale, $"float64, T = {tasks}, step {s}");
            }
            Tolerance.AllClose([.. phi.Cast<double>()], TestDevices.Reference.ToArray(exact.Targets), 1e-10, 1e-12, $"targets, T = {tasks}");
        }
    }

    /// <summary>The paper's property, float64, T = 2: with a target φ̂ learned by a first step, a conflicting second step
    /// leaves each corrected gradient at cosine exactly φ̂ with the other's original (1e-12); with β = 0 the targets stay
    /// 0 and every step is PCGrad (sum).</summary>
    [Fact]
    public void A_corrected_pair_reaches_its_target_cosine_and_beta_zero_is_pcgrad()
    {
        var backend = TestDevices.Reference;
        double[][] first = [[1, 0.2, 0], [-0.3, 1, 0.1]], second = [[1, 0, 0.3], [-0.9, 0.4, 0]];
        using var combiner = new GradVacCombiner<double>(backend, tasks: 2, beta: 0.5);
        CombinationTestSupport.Run(backend, combiner, first, [1, 1]);
        var phi = backend.ToArray(combiner.Targets);
        var update = CombinationTestSupport.Run(backend, combiner, second, [1, 1]);
        // T = 2: g₀' = g₀ + a g₁ and g₁' = g₁ + b g₀ with update = g₀' + g₁' = (1 + b) g₀ + (1 + a) g₁: solve for a and b.
        double cosTarget0 = phi[1], cosTarget1 = phi[2];
        double Cos(double[] x, double[] y) => CombinationTestSupport.Dot(x, y) / (Norm(x) * Norm(y));
        Assert.True(Cos(second[0], second[1]) < Math.Min(cosTarget0, cosTarget1), "the second step conflicts below the targets");
        var coefficients = backend.ToArray(combiner.Coefficients);
        var g0 = CombinationTestSupport.Axpy(coefficients[1] - 1, second[1], second[0]);
        var g1 = CombinationTestSupport.Axpy(coefficients[0] - 1, second[0], second[1]);
        Tolerance.AllClose(update, CombinationTestSupport.Axpy(1, g0, g1), 1e-12, 1e-14, "update = g₀' + g₁'");
        Assert.Equal(cosTarget0, Cos(g0, second[1]), 1e-12);
        Assert.Equal(cosTarget1, Cos(g1, second[0]), 1e-12);

        var g = CombinationTestSupport.RandomGradients(4, 20, seed: 21);
        double[] w = [1, 2, 0.5, 1];
        using var vac = new GradVacCombiner<double>(backend, tasks: 4, beta: 0, seed: 3);
        using var pc = new PcGradCombiner<double>(backend, tasks: 4, seed: 3 ^ 0x47564143);
        for (int s = 0; s < 3; s++)
            Tolerance.AllClose(CombinationTestSupport.Run(backend, pc, g, w), CombinationTestSupport.Run(backend, vac, g, w), 1e-12, 1e-14, $"β = 0, step {s}");
    }

    /// <summary>The state is the targets and the step count, on the device (<see cref="IMethodState{T}.Float64StateBuffers"/>):
    /// T = 4 (so the order of the others depends on the step), 3 steps, the state copied into a fresh combiner, 3 more
    /// steps there give the updates and targets of 6 uninterrupted steps bit for bit, on every device; a fresh combiner
    /// without the state differs (the test can tell). Another task count is refused by name.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Its_state_carries_the_targets_and_the_order_so_a_copy_continues_exactly(string device)
    {
        var backend = TestDevices.Get(device);
        const int tasks = 4;
        double[] w = [1, 0.5, 2, 1.5];
        var g = Enumerable.Range(0, 6).Select(s => CombinationTestSupport.RandomGradients(tasks, 50, seed: 900 + s)).ToArray();
        using var whole = new GradVacCombiner<float>(backend, tasks, beta: 0.4, seed: 5);
        using var first = new GradVacCombiner<float>(backend, tasks, beta: 0.4, seed: 5);
        using var resumed = new GradVacCombiner<float>(backend, tasks, beta: 0.4, seed: 5);
        using var fresh = new GradVacCombiner<float>(backend, tasks, beta: 0.4, seed: 5);
        var expected = g.Select(step => CombinationTestSupport.Run(backend, whole, step, w)).ToArray();
        for (int s = 0; s < 3; s++) CombinationTestSupport.Run(backend, first, g[s], w);
        Assert.Equal(["gradvac.targets", "gradvac.steps"], first.Float64StateBuffers.Select(b => b.Name));
        Assert.Empty(first.StateBuffers);
        Assert.Equal(3, first.Steps);
        for (int b = 0; b < 2; b++) backend.Upload<double>(backend.ToArray(first.Float64StateBuffers[b].Values), resumed.Float64StateBuffers[b].Values);
        for (int s = 3; s < 6; s++)
        {
            Assert.Equal(expected[s], CombinationTestSupport.Run(backend, resumed, g[s], w));
            if (s == 3) Assert.NotEqual(expected[s], CombinationTestSupport.Run(backend, fresh, g[s], w));
        }
        Assert.Equal(Array.ConvertAll(backend.ToArray(whole.Targets), BitConverter.DoubleToInt64Bits),
            Array.ConvertAll(backend.ToArray(resumed.Targets), BitConverter.DoubleToInt64Bits));
        Assert.Equal(6, resumed.Steps);
        Assert.Contains("4 tasks", Assert.Throws<ArgumentException>(() => CombinationTestSupport.Run(backend, whole, g[0][..3], [1, 1, 1])).Message);
    }

    /// <summary>Gradients ×1e-8 give the update ×1e-8 over three steps (cosines and the correction are scale-free).</summary>
    [Fact]
    public void It_is_scale_invariant() =>
        MethodTraining.AssertScaleInvariant(b => new GradVacCombiner<double>(b, tasks: 4), tasks: 4, seed: 40, steps: 3);

    /// <summary>Through the registry: <c>gradvac</c> (β = 0.25) and <c>gls+gradvac</c> train (loss down), and a warm step
    /// allocates nothing.</summary>
    [Theory]
    [InlineData("gradvac")]
    [InlineData("gls+gradvac")]
    public void Gradvac_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["beta"] = "0.25" }, step =>
        {
            var combiner = Assert.IsType<GradVacCombiner<float>>(step.Combiner);
            Assert.Equal(0.25, combiner.Beta, 1e-12);
            Assert.Equal(204, combiner.Steps);
        }, seed: 2);
}
