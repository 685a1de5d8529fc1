using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>upgrad</c> (Quinton &amp; Rey 2024): against a float64 reference written here that solves each dual-cone QP by
/// trying every active set (the KKT point of a strictly convex QP is unique), on every device; against a PyTorch
/// reference of torchjd's <c>UPGradWeighting</c> (the same steps, quadprog-free); the paper's properties (non-negative
/// inner product with every task gradient; the mean when nothing conflicts); scale invariance; training through the
/// registry with no allocation per step.
/// </summary>
public sealed class UpgradTests
{
    // ---- the reference, written apart from Kernels/Combination/UpgradSolver.cs (no active-set iterations)

    /// <summary>argmin_{v ≥ u} vᵀGv by enumeration of the active sets.</summary>
    private static double[] Project(double[] u, double[,] g)
    {
        int t = u.Length;
        for (int mask = 0; mask < 1 << t; mask++)
        {
            var free = Enumerable.Range(0, t).Where(j => (mask >> j & 1) != 0).ToArray();
            var v = (double[])u.Clone();
            if (free.Length > 0)
            {
                var a = new double[free.Length, free.Length];
                var b = new double[free.Length];
                for (int p = 0; p < free.Length; p++)
                {
                    for (int q = 0; q < free.Length; q++) a[p, q] = g[free[p], free[q]];
                    for (int j = 0; j < t; j++) if ((mask >> j & 1) == 0) b[p] -= g[free[p], j] * u[j];
                }
                var inverse = ImtlTests.Inverse(a);
                for (int p = 0; p < free.Length; p++) v[free[p]] = Enumerable.Range(0, free.Length).Sum(q => inverse[p, q] * b[q]);
            }
            var gv = Enumerable.Range(0, t).Select(i => Enumerable.Range(0, t).Sum(j => g[i, j] * v[j])).ToArray();
            if (free.All(j => v[j] >= u[j] - 1e-12) && Enumerable.Range(0, t).All(j => (mask >> j & 1) != 0 || gv[j] >= -1e-12)) return v;
        }
        throw new InvalidOperationException("no KKT point");
    }

    /// <summary>Σᵢ Jᵀvᵢ with G = G̃/tr + εI, uᵢ = eᵢ/T; also β = Σᵢ vᵢ.</summary>
    private static (double[] Update, double[] Beta) Reference(double[][] g, double[] w, double reg = 1e-4)
    {
        int t = g.Length;
        var h = MethodTraining.Weighted(g, w);
        var gram = new double[t, t];
        double trace = Enumerable.Range(0, t).Sum(i => CombinationTestSupport.Dot(h[i], h[i]));
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++) gram[i, j] = CombinationTestSupport.Dot(h[i], h[j]) / trace + (i == j ? reg : 0);
        var beta = new double[t];
        for (int i = 0; i < t; i++)
        {
            var v = Project([.. Enumerable.Range(0, t).Select(k => k == i ? 1.0 / t : 0)], gram);
            for (int k = 0; k < t; k++) beta[k] += v[k];
        }
        return (CombinationTestSupport.Combination(beta, h), beta);
    }

    private static double[] Run<T>(Backend<T> backend, double[][] g, double[] w, double reg = 1e-4)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var combiner = new UpgradCombiner<T>(backend, reg);
        return CombinationTestSupport.Run(backend, combiner, g, w);
    }

    private static readonly double[][] Fixture = [.. MethodTraining.FixtureGradients(), [-0.8, 0.2, 0.1, 0.9, 0.1, -0.5]];

    /// <summary>torchjd's <c>UPGradWeighting.forward</c> step by step in PyTorch 1.13, float64, its quadprog call replaced by
    /// an exact KKT enumeration (Tests/Fixtures/make_upgrad_reference.py): T = 2, 3, 4 rows of six; rtol 1e-5 float32,
    /// 1e-12 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_a_PyTorch_reference_of_torchjd_UPGrad(string device)
    {
        var expected = new Dictionary<int, double[]>
        {
            [2] = [0.210602229000731, -0.6442777123542592, 0.31577279456348467, -0.19150404415979594, -0.17061852050903226, 0.89307631103686],
            [3] = [0.20303870828775905, -0.25272756466880825, -0.11640849458873775, -0.05057646148306963, -0.037245265801609626, 0.8721464924946043],
            [4] = [-0.15405190649946066, -0.11024258331424164, 0.101479645677722, 0.21416649716927283, 0.14734246898782155, 0.5046377966307486],
        };
        Tolerance.AllClose([0.8809648680950155, 0.25, 0.35554912757623036, 1.071844000678247], Reference(Fixture, [1, 1, 1, 1]).Beta, 1e-10, 1e-12, "reference weights, T = 4");
        foreach (var (t, values) in expected)
        {
            var g = Fixture[..t];
            double[] w = [.. Enumerable.Repeat(1.0, t)];
            Tolerance.AllClose(values, Reference(g, w).Update, 1e-10, 1e-12, $"reference, T = {t}");
            Tolerance.AllClose(values, Run(TestDevices.Get(device), g, w), 1e-5, 1e-6, $"T = {t}");
            Tolerance.AllClose(values, Run(TestDevices.Reference, g, w), 1e-12, 1e-14, $"float64, T = {t}");
        }
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) and float64 against the reference for
    /// T = 2..6, unequal weights, gradients with conflicts (random signs): rtol 1e-4 + atol 1e-5·max|result| float32,
    /// 1e-10 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 2000 : 20_003;
        for (int tasks = 2; tasks <= 6; tasks++)
        {
            // Few, strong directions shared by the tasks with opposite signs, so several QPs have active constraints.
            var basis = CombinationTestSupport.RandomGradients(3, length, seed: 70 + tasks);
            var g = Enumerable.Range(0, tasks).Select(i =>
                CombinationTestSupport.Combination([Math.Cos(2.1 * i), Math.Sin(2.1 * i), 0.3], basis)).ToArray();
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
            var expected = Reference(g, w).Update;
            double scale = expected.Max(Math.Abs);
            Tolerance.AllClose(expected, Run(backend, g, w), 1e-4, 1e-5 * scale, $"T = {tasks}");
            Tolerance.AllClose(expected, Run(TestDevices.Reference, g, w), 1e-10, 1e-12 * scale, $"float64, T = {tasks}");
        }
    }

    /// <summary>The paper's properties, float64: with ε = 0 the update has a non-negative inner product with every weighted
    /// task gradient (≥ −1e-12 relative) for T = 2..8 with conflicts, and with the default ε it is ≥ −ε·tr G̃·βⱼ (the
    /// regularisation's slack); when no pair conflicts (every Gᵢⱼ ≥ 0) the update is the mean of the weighted gradients.</summary>
    [Fact]
    public void The_update_conflicts_with_no_task_and_is_the_mean_without_conflict()
    {
        var backend = TestDevices.Reference;
        for (int tasks = 2; tasks <= 8; tasks++)
        {
            var g = CombinationTestSupport.RandomGradients(tasks, 40, seed: 300 + tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 1.0 + 0.5 * (i % 3))];
            var h = MethodTraining.Weighted(g, w);
            double trace = h.Sum(r => CombinationTestSupport.Dot(r, r));
            var exact = Run(backend, g, w, reg: 0);
            Assert.All(h, r => Assert.True(CombinationTestSupport.Dot(exact, r) >= -1e-12 * trace, $"T = {tasks}: {CombinationTestSupport.Dot(exact, r)}"));
            var (update, beta) = Reference(g, w);
            Tolerance.AllClose(update, Run(backend, g, w), 1e-10, 1e-12, $"T = {tasks}, ε = 1e-4");
            for (int j = 0; j < tasks; j++)
                Assert.True(CombinationTestSupport.Dot(update, h[j]) >= -1e-4 * trace * beta[j] - 1e-12 * trace, $"T = {tasks}, task {j}");
        }
        var positive = CombinationTestSupport.RandomGradients(4, 30, seed: 3).Select(r => r.Select(Math.Abs).ToArray()).ToArray();
        double[] w4 = [1, 2, 0.5, 1];
        var mean = CombinationTestSupport.Combination([.. w4.Select(v => v / 4)], positive);
        Tolerance.AllClose(mean, Run(backend, positive, w4), 1e-12, 1e-14, "no conflict: the mean");
    }

    /// <summary>Gradients ×1e-8 give the update ×1e-8 (the normalisation by the trace; torchjd's absolute norm_eps would
    /// return the mean here); all-zero gradients give 0.</summary>
    [Fact]
    public void It_is_scale_invariant_and_zero_gradients_give_zero()
    {
        MethodTraining.AssertScaleInvariant(b => new UpgradCombiner<double>(b), tasks: 5, seed: 13);
        Assert.All(Run(TestDevices.Reference, [new double[30], new double[30]], [1, 1]), v => Assert.Equal(0.0, v));
    }

    /// <summary>Through the registry: <c>upgrad</c> and <c>gls+upgrad</c> train (loss down), the options reach the
    /// combiner, and a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("upgrad")]
    [InlineData("gls+upgrad")]
    public void Upgrad_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["reg-eps"] = "0.001", ["max-iterations"] = "50" }, step =>
        {
            var combiner = Assert.IsType<UpgradCombiner<float>>(step.Combiner);
            Assert.Equal((0.001, 50), (combiner.Regularization, combiner.MaxIterations));
        });
}
