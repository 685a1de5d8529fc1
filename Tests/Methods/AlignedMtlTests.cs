using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>aligned-mtl</c> (Senushkin et al. 2023): against a float64 reference written here without an eigen-decomposition
/// (the inverse square root of G̃G̃ᵀ by the Denman–Beavers iteration, λ_min by inverse power iteration), on every
/// device; against LibMTL's <c>Aligned_MTL.backward</c> and the reference code's median/rmse modes in PyTorch 1.13; the
/// paper's property (the aligned gradients' Gram matrix is σ²·I, a projector's multiple at lower rank); scale
/// invariance; training through the registry with no allocation per step.
/// </summary>
public sealed class AlignedMtlTests
{
    // ---- the reference, written apart from Kernels/Combination/AlignedMtlSolver.cs (no Jacobi, no eigenvectors)

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0);
        var c = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++) c[i, j] += a[i, k] * b[k, j];
        return c;
    }

    /// <summary>M^{-1/2} of a symmetric positive definite M: Denman–Beavers, Y → M^{1/2}, Z → M^{-1/2}.</summary>
    private static double[,] InverseSquareRoot(double[,] m)
    {
        int n = m.GetLength(0);
        double[,] y = (double[,])m.Clone(), z = new double[n, n];
        for (int i = 0; i < n; i++) z[i, i] = 1;
        for (int k = 0; k < 60; k++)
        {
            double[,] yi = ImtlTests.Inverse(y), zi = ImtlTests.Inverse(z), y2 = new double[n, n], z2 = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { y2[i, j] = 0.5 * (y[i, j] + zi[i, j]); z2[i, j] = 0.5 * (z[i, j] + yi[i, j]); }
            (y, z) = (y2, z2);
        }
        return z;
    }

    /// <summary>The smallest eigenvalue of M: power iteration on M⁻¹.</summary>
    private static double SmallestEigenvalue(double[,] m)
    {
        var inverse = ImtlTests.Inverse(m);
        int n = m.GetLength(0);
        var x = Enumerable.Range(0, n).Select(i => 1.0 + 0.1 * i).ToArray();
        double mu = 0;
        for (int k = 0; k < 2000; k++)
        {
            var y = new double[n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) y[i] += inverse[i, j] * x[j];
            mu = Math.Sqrt(CombinationTestSupport.Dot(y, y));
            x = [.. y.Select(v => v / mu)];
        }
        return 1 / mu;
    }

    /// <summary>Σ rows of σ·(G̃G̃ᵀ)^{-1/2}·G̃ (full rank), σ = √λ_min or √(tr/T) (rmse).</summary>
    private static double[] Reference(double[][] g, double[] w, bool rmse = false)
    {
        int t = g.Length;
        var h = MethodTraining.Weighted(g, w);
        var m = new double[t, t];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++) m[i, j] = CombinationTestSupport.Dot(h[i], h[j]);
        double sigma = Math.Sqrt(rmse ? Enumerable.Range(0, t).Sum(i => m[i, i]) / t : SmallestEigenvalue(m));
        var z = InverseSquareRoot(m);
        var alpha = Enumerable.Range(0, t).Select(k => sigma * Enumerable.Range(0, t).Sum(i => z[i, k])).ToArray();
        return CombinationTestSupport.Combination(alpha, h);
    }

    private static double[] Run<T>(Backend<T> backend, double[][] g, double[] w, string scale = "min")
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var combiner = new AlignedMtlCombiner<T>(backend, Array.IndexOf(["min", "median", "rmse"], scale));
        return CombinationTestSupport.Run(backend, combiner, g, w);
    }

    /// <summary>LibMTL's <c>Aligned_MTL.backward</c> (σ = √λ_min) and SamsungLabs/MTL's <c>ProcrustesSolver</c> median and
    /// rmse modes in PyTorch 1.13 (Tests/Fixtures/make_aligned_mtl_libmtl.py), T = 3, six parameters: rtol 1e-5 float32,
    /// 1e-12 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_Aligned_MTL_in_PyTorch(string device)
    {
        var g = MethodTraining.FixtureGradients();
        var expected = new Dictionary<string, double[]>
        {
            ["min"] = [0.3912312260975666, -0.48652512753723476, -0.408615100359916, 0.0415446960468554, -0.06783492404276226, 2.038054727647744],
            ["median"] = [0.4013738748733273, -0.49913826565101516, -0.4192084251534465, 0.04262174008728631, -0.06959354084888733, 2.0908911883119403],
            ["rmse"] = [0.4611227413002716, -0.5734404248844012, -0.4816121583497033, 0.04896644963312513, -0.0799532962706137, 2.4021430812338496],
        };
        Tolerance.AllClose(expected["min"], Reference(g, [1, 1, 1]), 1e-10, 1e-12, "reference, min");
        Tolerance.AllClose(expected["rmse"], Reference(g, [1, 1, 1], rmse: true), 1e-10, 1e-12, "reference, rmse");
        foreach (var (scale, values) in expected)
        {
            Tolerance.AllClose(values, Run(TestDevices.Get(device), g, [1, 1, 1], scale), 1e-5, 1e-6, scale);
            Tolerance.AllClose(values, Run(TestDevices.Reference, g, [1, 1, 1], scale), 1e-12, 1e-14, $"float64, {scale}");
        }
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) and float64 against the reference for
    /// T = 2..6, unequal weights, scales min and rmse: rtol 1e-4 + atol 1e-5·max|result| float32 (the float32 Gram's
    /// rounding through Λ^{-1/2}), 1e-9 float64.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 2000 : 20_003;
        for (int tasks = 2; tasks <= 6; tasks++)
            foreach (bool rmse in new[] { false, true })
            {
                var g = CombinationTestSupport.RandomGradients(tasks, length, seed: 40 + tasks);
                double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
                var expected = Reference(g, w, rmse);
                double scale = expected.Max(Math.Abs);
                string mode = rmse ? "rmse" : "min";
                Tolerance.AllClose(expected, Run(backend, g, w, mode), 1e-4, 1e-5 * scale, $"T = {tasks}, {mode}");
                Tolerance.AllClose(expected, Run(TestDevices.Reference, g, w, mode), 1e-9, 1e-12 * scale, $"float64, T = {tasks}, {mode}");
            }
    }

    /// <summary>B (the solver's workspace [2T², 3T²) after a solve) applied to G̃: the aligned gradients B·G̃.</summary>
    private static (double[,] AlignedGram, double[] Coefficients) Aligned(double[][] g, double[] w, int scale = AlignedMtlSolver.ScaleMin)
    {
        var backend = TestDevices.Reference;
        int t = g.Length, length = g[0].Length;
        using var vectors = backend.Allocate<double>([.. g.SelectMany(r => r)]);
        using var gram = backend.Allocate<double>(t * t);
        using var weights = backend.Allocate<double>(w);
        using var workspace = backend.Allocate<double>(AlignedMtlSolver.WorkspaceLength(t));
        using var coefficients = backend.Allocate<double>(t);
        backend.Gram(vectors.View, t, length, gram.View);
        backend.AlignedMtlCoefficients(gram.View, t, weights.View, scale, 100, workspace.View, coefficients.View);
        var work = backend.ToArray(workspace.View);
        var h = MethodTraining.Weighted(g, w);
        var aligned = Enumerable.Range(0, t).Select(i => CombinationTestSupport.Combination([.. Enumerable.Range(0, t).Select(k => work[2 * t * t + i * t + k])], h)).ToArray();
        var result = new double[t, t];
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++) result[i, j] = CombinationTestSupport.Dot(aligned[i], aligned[j]);
        return (result, backend.ToArray(coefficients.View));
    }

    /// <summary>The paper's property, float64: the aligned gradients' Gram matrix is σ²·I (condition number 1; 1e-10 of σ²)
    /// with σ² = λ_min for T = 2..8; with a dependent gradient (rank T − 1) it is σ² times a projector of rank T − 1
    /// (P² = P, trace T − 1); orthogonal gradients of norms 1..4 give σ² = 1 (min), 4 (median: the lower middle of
    /// 1, 4, 9, 16) and 7.5 (rmse).</summary>
    [Fact]
    public void The_aligned_gradients_have_an_identity_gram_matrix_times_sigma_squared()
    {
        for (int tasks = 2; tasks <= 8; tasks++)
        {
            var g = CombinationTestSupport.RandomGradients(tasks, 50, seed: 200 + tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 1.0 + 0.5 * (i % 3))];
            var (gram, _) = Aligned(g, w);
            var m = new double[tasks, tasks];
            for (int i = 0; i < tasks; i++)
                for (int j = 0; j < tasks; j++) m[i, j] = w[i] * w[j] * CombinationTestSupport.Dot(g[i], g[j]);
            double sigma2 = SmallestEigenvalue(m);
            for (int i = 0; i < tasks; i++)
                for (int j = 0; j < tasks; j++)
                    Assert.True(Math.Abs(gram[i, j] - (i == j ? sigma2 : 0)) <= 1e-10 * sigma2, $"T = {tasks}, [{i}, {j}] = {gram[i, j]}, σ² = {sigma2}");
        }

        var d = CombinationTestSupport.RandomGradients(2, 20, seed: 5);
        var (deficient, _) = Aligned([d[0], d[1], [.. d[0].Zip(d[1], (a, b) => a - 2 * b)]], [1, 1, 1]);
        var squared = Multiply(deficient, deficient);
        double s2 = (deficient[0, 0] + deficient[1, 1] + deficient[2, 2]) / 2;   // trace = 2σ²
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.True(Math.Abs(squared[i, j] - s2 * deficient[i, j]) <= 1e-10 * s2 * s2, $"rank 2: [{i}, {j}]");

        double[][] orthogonal = [[1, 0, 0, 0, 0], [0, 2, 0, 0, 0], [0, 0, 3, 0, 0], [0, 0, 0, 4, 0]];
        foreach (var (scale, expected) in new[] { (AlignedMtlSolver.ScaleMin, 1.0), (AlignedMtlSolver.ScaleMedian, 4.0), (AlignedMtlSolver.ScaleRmse, 7.5) })
        {
            var (gram, coefficients) = Aligned(orthogonal, [1, 1, 1, 1], scale);
            for (int i = 0; i < 4; i++) Assert.Equal(expected, gram[i, i], 1e-12);
            Tolerance.AllClose([.. Enumerable.Range(1, 4).Select(n => Math.Sqrt(expected) / n)], coefficients, 1e-12, 1e-14, $"scale {scale}");
        }
    }

    /// <summary>Gradients ×1e-8 give the result ×1e-8 (relative rank test and Jacobi stop); all-zero gradients give 0.</summary>
    [Fact]
    public void It_is_scale_invariant_and_zero_gradients_give_zero()
    {
        MethodTraining.AssertScaleInvariant(b => new AlignedMtlCombiner<double>(b), tasks: 5, seed: 11);
        Assert.All(Run(TestDevices.Reference, [new double[30], new double[30]], [1, 1]), v => Assert.Equal(0.0, v));
    }

    /// <summary>Through the registry: <c>aligned-mtl</c> (scale rmse) and <c>gls+aligned-mtl</c> train (loss down), the
    /// options reach the combiner, and a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("aligned-mtl")]
    [InlineData("gls+aligned-mtl")]
    public void Aligned_mtl_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["scale"] = "rmse", ["max-sweeps"] = "30" }, step =>
        {
            var combiner = Assert.IsType<AlignedMtlCombiner<float>>(step.Combiner);
            Assert.Equal((AlignedMtlSolver.ScaleRmse, 30), (combiner.Scale, combiner.MaxSweeps));
        });
}
