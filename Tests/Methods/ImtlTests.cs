using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>imtl</c> (Liu et al. 2021): IMTL-G against a float64 reference written here from the vectors (explicit D, U, a
/// Gauss–Jordan inverse of DUᵀ), on every device; LibMTL's <c>IMTL.backward</c> run in PyTorch 1.13; the paper's
/// property (equal projections of the result on every unit gradient, Σα = 1); scale invariance and the guards; IMTL-L's
/// kernel (sign +1 of the uncertainty kernel) on every device; the preset and its variants training through the
/// registry with no allocation per step.
/// </summary>
public sealed class ImtlTests
{
    // ---- the reference, written apart from Kernels/Combination/ImtlSolver.cs (vectors, not the Gram matrix)

    /// <summary>α of IMTL-G for the rows h (already weighted), as the paper writes it.</summary>
    private static double[] ReferenceAlpha(double[][] h)
    {
        int t = h.Length;
        var u = h.Select(r => { double n = Math.Sqrt(CombinationTestSupport.Dot(r, r)); return r.Select(v => v / n).ToArray(); }).ToArray();
        var d = Enumerable.Range(1, t - 1).Select(i => h[0].Zip(h[i], (a, b) => a - b).ToArray()).ToArray();
        var du = Enumerable.Range(1, t - 1).Select(i => u[0].Zip(u[i], (a, b) => a - b).ToArray()).ToArray();
        var m = new double[t - 1, t - 1];
        for (int p = 0; p < t - 1; p++)
            for (int q = 0; q < t - 1; q++) m[p, q] = CombinationTestSupport.Dot(d[p], du[q]);
        var inverse = Inverse(m);
        var r0 = du.Select(row => CombinationTestSupport.Dot(h[0], row)).ToArray();
        var alpha = new double[t];
        for (int q = 0; q < t - 1; q++)
            for (int p = 0; p < t - 1; p++) alpha[q + 1] += r0[p] * inverse[p, q];
        alpha[0] = 1 - alpha.Skip(1).Sum();
        return alpha;
    }

    /// <summary>Gauss–Jordan with full-row pivoting on [M | I].</summary>
    internal static double[,] Inverse(double[,] m)
    {
        int n = m.GetLength(0);
        var a = new double[n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) a[i, j] = m[i, j];
            a[i, n + i] = 1;
        }
        for (int c = 0; c < n; c++)
        {
            int pivot = Enumerable.Range(c, n - c).MaxBy(r => Math.Abs(a[r, c]));
            for (int j = 0; j < 2 * n; j++) (a[c, j], a[pivot, j]) = (a[pivot, j], a[c, j]);
            double diagonal = a[c, c];
            for (int j = 0; j < 2 * n; j++) a[c, j] /= diagonal;
            for (int r = 0; r < n; r++)
            {
                if (r == c) continue;
                double f = a[r, c];
                for (int j = 0; j < 2 * n; j++) a[r, j] -= f * a[c, j];
            }
        }
        var inverse = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) inverse[i, j] = a[i, n + j];
        return inverse;
    }

    private static double[] Reference(double[][] g, double[] w)
    {
        var h = MethodTraining.Weighted(g, w);
        return CombinationTestSupport.Combination(ReferenceAlpha(h), h);
    }

    private static double[] Run<T>(Backend<T> backend, double[][] g, double[] w) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var combiner = new ImtlCombiner<T>(backend);
        return CombinationTestSupport.Run(backend, combiner, g, w);
    }

    /// <summary>LibMTL's <c>IMTL.backward</c> (rep_grad off) in PyTorch 1.13, float64 (Tests/Fixtures/make_imtl_libmtl.py):
    /// T = 3, six shared parameters, loss scales s = (0.2, −0.3, 0.5); its shared gradient Σαₜe^{sₜ}gₜ and the gradient
    /// of the scales e^{sₜ}Lₜ − 1, here from <c>imtl-l</c>'s kernel then <c>imtl-g</c>: rtol 1e-5 float32, 1e-12 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_IMTL_in_PyTorch(string device)
    {
        var g = MethodTraining.FixtureGradients();
        double[] losses = [0.8, 1.7, 0.3], scales = [0.2, -0.3, 0.5];
        double[] shared = [0.14680292257095964, -0.2051776585916788, -0.11445331879416099, -0.0024881848078959906, -0.033533577536285136, 0.7387026450449472];
        double[] scaleGradient = [-0.022877793471864027, 0.2593909751589203, -0.5053836187899616];
        double[] alpha = [0.27969157893250796, 0.5219878799721769, 0.19832054109531516];

        Tolerance.AllClose(alpha, ReferenceAlpha(MethodTraining.Weighted(g, [.. scales.Select(Math.Exp)])), 1e-12, 1e-14, "reference α");
        Check(TestDevices.Get(device), 1e-5, 1e-6);
        Check(TestDevices.Reference, 1e-12, 1e-14);

        void Check<T>(Backend<T> backend, double rtol, double atol) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var (weights, gradients, _) = LossScales(backend, losses, scales);
            Tolerance.AllClose(scaleGradient, gradients, rtol, atol, "∂/∂s");
            Tolerance.AllClose(shared, Run(backend, g, weights), rtol, atol, "shared gradient");
        }
    }

    /// <summary>IMTL-L's kernel (<c>UncertaintyWeights</c> with sign +1): λ = e^{s}, ∂/∂s = e^{s}L − 1, total Σ e^{s}L − s.</summary>
    private static (double[] Weights, double[] Gradients, double Total) LossScales<T>(Backend<T> backend, double[] losses, double[] scales)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int t = losses.Length;
        using var l = backend.Allocate<T>(Array.ConvertAll(losses, T.CreateTruncating));
        using var s = backend.Allocate<T>(Array.ConvertAll(scales, T.CreateTruncating));
        using var w = backend.Allocate<T>(t);
        using var ds = backend.Allocate<T>(t);
        using var total = backend.Allocate<T>(1);
        backend.UncertaintyWeights(l.View, s.View, w.View, ds.View, accumulate: false, total.View, sign: 1);
        static double[] D(T[] x) => Array.ConvertAll(x, double.CreateTruncating);
        return (D(backend.ToArray(w.View)), D(backend.ToArray(ds.View)), D(backend.ToArray(total.View))[0]);
    }

    /// <summary>IMTL-L's weights, scale gradients and total against float64 formulas (rtol 1e-6 float32, with exp in
    /// float32 on ILGPU), on every device.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Loss_scales_give_exp_s_and_the_gradient_exp_s_L_minus_one(string device)
    {
        double[] losses = [0.5, 2.0, 0.01, 3.5], scales = [0, -1.25, 2.0, 0.3];
        var (weights, gradients, total) = LossScales(TestDevices.Get(device), losses, scales);
        Tolerance.AllClose([.. scales.Select(Math.Exp)], weights, 1e-6, 1e-7, "λ");
        Tolerance.AllClose([.. scales.Select((s, i) => Math.Exp(s) * losses[i] - 1)], gradients, 1e-6, 1e-6, "∂/∂s");
        double expected = scales.Select((s, i) => Math.Exp(s) * losses[i] - s).Sum();
        Assert.True(Math.Abs(total - expected) <= 1e-6 * Math.Abs(expected), $"total {total} vs {expected}");
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) and float64 against the reference for
    /// T = 2..6 and unequal weights: rtol 1e-4 + atol 1e-5·max|g| float32 (the solve amplifies the float32 Gram's rounding
    /// by the condition number of DUᵀ, here below 100), 1e-10 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 2000 : 20_003;
        for (int tasks = 2; tasks <= 6; tasks++)
        {
            var g = CombinationTestSupport.RandomGradients(tasks, length, seed: tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
            var expected = Reference(g, w);
            double scale = expected.Max(Math.Abs);
            Tolerance.AllClose(expected, Run(backend, g, w), 1e-4, 1e-5 * scale, $"T = {tasks}");
            Tolerance.AllClose(expected, Run(TestDevices.Reference, g, w), 1e-10, 1e-12 * scale, $"float64, T = {tasks}");
        }
    }

    /// <summary>The paper's property, float64: the result's projections gᵀuₜ on the unit weighted gradients are equal
    /// (to 1e-10 relative) and positive, and the coefficients over the weights sum to 1 (Σα = 1), for T = 2..8.</summary>
    [Fact]
    public void The_result_projects_equally_on_every_unit_gradient()
    {
        var backend = TestDevices.Reference;
        for (int tasks = 2; tasks <= 8; tasks++)
        {
            var g = CombinationTestSupport.RandomGradients(tasks, 40, seed: 100 + tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 1.0 + 0.5 * (i % 3))];
            using var combiner = new ImtlCombiner<double>(backend);
            var result = CombinationTestSupport.Run(backend, combiner, g, w);
            var projections = MethodTraining.Weighted(g, w).Select(h => CombinationTestSupport.Dot(result, h) / Math.Sqrt(CombinationTestSupport.Dot(h, h))).ToArray();
            Assert.All(projections, p => Assert.True(Math.Abs(p - projections[0]) <= 1e-10 * Math.Abs(projections[0]), $"T = {tasks}: {string.Join(", ", projections)}"));
            Assert.True(projections[0] > 0, $"T = {tasks}");
            var a = backend.ToArray(combiner.Coefficients);
            Assert.Equal(1.0, a.Select((c, i) => c / w[i]).Sum(), 1e-12);
        }
    }

    /// <summary>Scale invariance (every gradient ×1e-8 gives the result ×1e-8, the same α), and the guards: a zero-gradient
    /// task or one of weight 0 is left out (IMTL-G on the others), one task left gives its gradient, two equal directions
    /// (a singular DUᵀ) give the mean, all zero gives 0.</summary>
    [Fact]
    public void It_is_scale_invariant_and_degenerate_inputs_are_guarded()
    {
        MethodTraining.AssertScaleInvariant(b => new ImtlCombiner<double>(b), tasks: 4, seed: 9);
        var backend = TestDevices.Reference;
        var g = CombinationTestSupport.RandomGradients(4, 30, seed: 9);
        double[] w = [1, 0.5, 2, 1];

        double[][] withZero = [g[0], new double[30], g[2], g[3]];
        Tolerance.AllClose(Reference([g[0], g[2], g[3]], [1, 2, 1]), Run(backend, withZero, w), 1e-10, 1e-14, "zero gradient");
        Tolerance.AllClose(Reference([g[0], g[2], g[3]], [1, 2, 1]), Run(backend, g, [1, 0, 2, 1]), 1e-10, 1e-14, "weight 0");
        Tolerance.AllClose(g[2].Select(v => 2 * v).ToArray(), Run(backend, [new double[30], g[2]], [1, 2]), 1e-12, 1e-14, "one task");
        var twice = g[1].Select(v => 3 * v).ToArray();
        Tolerance.AllClose(g[1].Select(v => 2 * v).ToArray(), Run(backend, [g[1], twice], [1, 1]), 1e-12, 1e-14, "parallel: the mean");
        Assert.All(Run(backend, [new double[30], new double[30]], [1, 1]), v => Assert.Equal(0.0, v));
    }

    /// <summary>Through the registry: <c>imtl</c> is IMTL-H (imtl-l+imtl-g), <c>variant=l</c> and <c>variant=g</c> one half,
    /// <c>init</c> reaches the scales; each trains (loss down) and a warm step allocates nothing; the scales move.</summary>
    [Theory]
    [InlineData("h", "imtl-l+imtl-g")]
    [InlineData("l", "imtl-l+sum")]
    [InlineData("g", "static+imtl-g")]
    public void Imtl_trains_through_the_registry_and_a_warm_step_allocates_nothing(string variant, string plan) =>
        MethodTraining.TrainsThroughTheRegistry("imtl", variant == "g" ? new() { ["variant"] = variant } : new() { ["imtl.variant"] = variant, ["init"] = "0.25" }, step =>
        {
            Assert.Equal(plan, step.Plan.ToString());
            if (variant == "g") { Assert.IsType<ImtlCombiner<float>>(step.Combiner); return; }
            var scales = step.Model.Backend.ToArray(Assert.IsType<ImtlLossWeighting<float>>(step.Weighting).LossScales);
            Assert.All(scales, s => Assert.NotEqual(0.25f, s));
        });
}
