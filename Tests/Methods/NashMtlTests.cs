using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>nash-mtl</c> (Navon et al. 2022): α against a float64 reference written here with another algorithm (cyclic
/// coordinate minimisation, each coordinate in closed form); the reference NashMTL in PyTorch 1.13 (its cvxpy/ECOS call
/// replaced by a barrier method on the same problem); the paper's closed form for orthogonal gradients and its scale
/// invariance; the degenerate cases; the clipping and <c>update-every</c>; float32 on every device against float64;
/// training through the registry with no allocation per step.
/// </summary>
public sealed class NashMtlTests
{
    // ---- the reference, written apart from Kernels/Combination/NashMtlSolver.cs

    /// <summary>α &gt; 0 with Mα = 1/α by cyclic coordinate minimisation of ½αᵀMα − Σ log α: coordinate i's minimiser
    /// solves Mᵢᵢαᵢ² + sᵢαᵢ − 1 = 0 (sᵢ = Σ_{j≠i} Mᵢⱼαⱼ), the positive root. Converges (a strictly convex function with
    /// bounded level sets), linearly; run until a sweep moves nothing.</summary>
    private static double[] ReferenceAlpha(double[,] m)
    {
        int t = m.GetLength(0);
        var a = new double[t];
        for (int i = 0; i < t; i++) a[i] = 1 / Math.Sqrt(m[i, i]);
        for (int sweep = 0; sweep < 2_000_000; sweep++)
        {
            double moved = 0, largest = 0;
            for (int i = 0; i < t; i++)
            {
                double s = 0;
                for (int j = 0; j < t; j++)
                    if (j != i) s += m[i, j] * a[j];
                double next = 2 / (s + Math.Sqrt(s * s + 4 * m[i, i]));   // (−s + √(s² + 4Mᵢᵢ))/(2Mᵢᵢ), without cancellation
                moved = Math.Max(moved, Math.Abs(next - a[i]));
                largest = Math.Max(largest, next);
                a[i] = next;
            }
            if (moved <= 1e-16 * largest) return a;
        }
        throw new InvalidOperationException("coordinate minimisation did not converge");
    }

    /// <summary>max |αᵢ(Mα)ᵢ − 1|: the residual of Mα = 1/α, relative by construction.</summary>
    private static double Residual(double[,] m, double[] a)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double row = 0;
            for (int j = 0; j < a.Length; j++) row += m[i, j] * a[j];
            worst = Math.Max(worst, Math.Abs(a[i] * row - 1));
        }
        return worst;
    }

    private static double Norm(double[] v) => Math.Sqrt(CombinationTestSupport.Dot(v, v));

    /// <summary>Runs one step; returns the combined gradient and the coefficients a (result = Σ aᵢgᵢ).</summary>
    private static (double[] Update, double[] Coefficients) Run<T>(Backend<T> backend, double[][] g, double[] w, double maxNorm = 0)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var combiner = new NashMtlCombiner<T>(backend, maxNorm);
        var update = CombinationTestSupport.Run(backend, combiner, g, w);
        return (update, Array.ConvertAll(backend.ToArray(combiner.Coefficients), double.CreateTruncating));
    }

    /// <summary>Random task gradients with conflict: row 1 pulled toward −row 0 (cosines down to about −0.7).</summary>
    private static double[][] Conflicting(int tasks, int length, int seed)
    {
        var g = CombinationTestSupport.RandomGradients(tasks, length, seed);
        g[1] = [.. g[1].Select((v, k) => 0.6 * v - 0.8 * g[0][k])];
        return g;
    }

    /// <summary>float64: the coefficients solve GᵀGα = 1/α (max |αᵢ(Gα)ᵢ − 1| ≤ 1e-9) and equal the coordinate-minimisation
    /// reference (rtol 1e-9) for T = 2..6, random and conflicting gradients of unequal norms, unequal weights, no clipping.</summary>
    [Fact]
    public void Alpha_solves_the_bargaining_equation_and_matches_the_reference()
    {
        for (int tasks = 2; tasks <= 6; tasks++)
            for (int kind = 0; kind < 2; kind++)
            {
                var g = kind == 0 ? CombinationTestSupport.RandomGradients(tasks, 40, seed: 7 * tasks) : Conflicting(tasks, 40, seed: 3 + tasks);
                g = [.. g.Select((r, i) => r.Select(v => v * (0.2 + i)).ToArray())];
                double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
                var gram = CombinationTestSupport.GramOf(g);
                var (_, a) = Run(TestDevices.Reference, g, w);
                string what = $"T = {tasks}, {(kind == 0 ? "random" : "conflicting")}";
                Assert.True(Residual(gram, a) <= 1e-9, $"{what}: residual {Residual(gram, a):e3}");
                Tolerance.AllClose(ReferenceAlpha(gram), a, 1e-9, 0, what);
            }
    }

    /// <summary>The reference NashMTL in PyTorch 1.13 (Tests/Fixtures/make_nash_mtl_reference.py: its code on losses linear
    /// in a shared parameter, its ECOS solve replaced by a barrier method on the same problem), three steps of T = 3 — the
    /// fixture gradients, the same with rows scaled by (2, ½, 1), a set with a conflicting task — with max_norm 1 (the
    /// default: the update always has norm √T before clipping, so it is clipped), 5 (not clipped) and
    /// update_weights_every 2: the shared gradient on every device within rtol 1e-5 (float32), 1e-10 (float64).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_reference_NashMTL_in_PyTorch(string device)
    {
        var g0 = MethodTraining.FixtureGradients();
        double[][][] steps =
        [
            g0,
            [.. g0.Select((r, i) => r.Select(v => v * new[] { 2.0, 0.5, 1.0 }[i]).ToArray())],
            [g0[0], [-0.8, 0.2, -0.1, 0.9, 0.10, -0.3], g0[2]],
        ];
        var cases = new (double MaxNorm, int Every, double[][] Shared)[]
        {
            (1.0, 1, [
                [0.17505249496909936, -0.22395476279507867, -0.18963441078268087, 0.02685398322003856, -0.03222873815032653, 0.9388709686621034],
                [0.17505249496907674, -0.22395476279509352, -0.18963441078267032, 0.02685398322006749, -0.03222873815033618, 0.9388709686621051],
                [-0.27016177459144475, -0.022289703791053217, -0.09022450326148952, 0.14224218073971617, 0.42258566611857085, 0.8482704084050801],
            ]),
        };
        foreach (var (maxNorm, every, shared) in cases)
        {
            Check(TestDevices.Get(device), 1e-5, 1e-6);
            Check(TestDevices.Reference, 1e-10, 1e-12);

            void Check<T>(Backend<T> backend, double rtol, double atol) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
            {
                using var combiner = new NashMtlCombiner<T>(backend, maxNorm, every);
                for (int s = 0; s < steps.Length; s++)
                    Tolerance.AllClose(shared[s], CombinationTestSupport.Run(backend, combiner, steps[s], [1, 1, 1]), rtol, atol,
                        $"max_norm {maxNorm}, every {every}, step {s}");
            }
        }
    }

    /// <summary>The paper's closed form: orthogonal gradients give αᵢ = 1/‖gᵢ‖ (GᵀG diagonal), to 1e-12, for two tasks
    /// of norms 3 and 0.02 and for five of norms 1..5; the update then has norm √T.</summary>
    [Fact]
    public void Orthogonal_gradients_give_alpha_one_over_the_norm()
    {
        foreach (var norms in new[] { new[] { 3.0, 0.02 }, new[] { 1.0, 2, 3, 4, 5 } })
        {
            int t = norms.Length;
            var g = Enumerable.Range(0, t).Select(i => Enumerable.Range(0, t + 2).Select(k => k == i ? norms[i] : 0.0).ToArray()).ToArray();
            var (update, a) = Run(TestDevices.Reference, g, [.. Enumerable.Repeat(1.0, t)]);
            Tolerance.AllClose([.. norms.Select(n => 1 / n)], a, 1e-12, 0, $"norms {string.Join(", ", norms)}");
            Assert.Equal(Math.Sqrt(t), Norm(update), 1e-12);
        }
    }

    /// <summary>Scale invariance (the paper): task i's gradient ×cᵢ gives αᵢ/cᵢ, so every αᵢgᵢ and the update are
    /// unchanged (rtol 1e-10), for c = (1e-6, 3, 1, 250) and for every gradient ×1e-8; a task weight acts as such a scale.</summary>
    [Fact]
    public void Scaling_a_task_gradient_scales_its_alpha_inversely()
    {
        var backend = TestDevices.Reference;
        var g = Conflicting(4, 30, seed: 5);
        double[] ones = [1, 1, 1, 1], c = [1e-6, 3, 1, 250];
        var (update, a) = Run(backend, g, ones);
        var (scaledUpdate, scaledA) = Run(backend, [.. g.Select((r, i) => r.Select(v => v * c[i]).ToArray())], ones);
        Tolerance.AllClose([.. a.Select((v, i) => v / c[i])], scaledA, 1e-10, 0, "α/c");
        Tolerance.AllClose(update, scaledUpdate, 1e-10, 1e-14, "update, rows scaled");
        Tolerance.AllClose(update, Run(backend, [.. g.Select(r => r.Select(v => v * 1e-8).ToArray())], ones).Update, 1e-10, 1e-14, "update, ×1e-8");
        Tolerance.AllClose(update, Run(backend, g, c).Update, 1e-10, 1e-14, "weights c");
    }

    /// <summary>Degenerate Gram matrices: a zero-gradient task (or weight 0) is left out (α = 0, the others solved alone);
    /// two equal gradients g give α = 1/(√2‖g‖) each (singular GᵀG, unique solution); opposite gradients, and three
    /// whose sum vanishes (a zero non-negative combination: Pareto-stationary, no α exists) give the update 0; all zero gives 0.</summary>
    [Fact]
    public void Degenerate_gram_matrices_are_handled()
    {
        var backend = TestDevices.Reference;
        var g = Conflicting(3, 20, seed: 11);
        var others = Run(backend, [g[0], g[2]], [1, 1]);
        var (withZero, a) = Run(backend, [g[0], new double[20], g[2]], [1, 1, 1]);
        Tolerance.AllClose(others.Update, withZero, 1e-12, 1e-14, "zero gradient");
        Assert.Equal(0.0, a[1]);
        Tolerance.AllClose(others.Update, Run(backend, g, [1, 0, 1]).Update, 1e-12, 1e-14, "weight 0");

        var (_, equal) = Run(backend, [g[0], g[0]], [1, 1]);
        Tolerance.AllClose([1 / (Math.Sqrt(2) * Norm(g[0])), 1 / (Math.Sqrt(2) * Norm(g[0]))], equal, 1e-12, 0, "equal gradients");

        var minus = g[0].Select(v => -2 * v).ToArray();
        Assert.All(Run(backend, [g[0], minus], [1, 1]).Update, v => Assert.Equal(0.0, v));
        var third = g[0].Select((v, k) => -v - g[1][k]).ToArray();
        Assert.All(Run(backend, [g[0], g[1], third], [1, 1, 1]).Update, v => Assert.Equal(0.0, v));
        Assert.All(Run(backend, [new double[20], new double[20]], [1, 1]).Update, v => Assert.Equal(0.0, v));
    }

    /// <summary>The reference's clip_grad_norm_: the update Σαᵢgᵢ has norm √T (αᵀGᵀGα = Σ αᵢ·(1/αᵢ)), clipped to
    /// max-norm·√T/(√T + 1e-6) when max-norm is below it, untouched above it and with max-norm 0.</summary>
    [Fact]
    public void The_update_is_clipped_as_the_reference_clips_it()
    {
        var backend = TestDevices.Reference;
        var g = Conflicting(4, 25, seed: 2);
        double[] w = [1, 1, 1, 1];
        var raw = Run(backend, g, w).Update;
        Assert.Equal(2.0, Norm(raw), 1e-10);
        Tolerance.AllClose(raw, Run(backend, g, w, maxNorm: 3).Update, 1e-14, 0, "max-norm 3 > 2");
        Tolerance.AllClose([.. raw.Select(v => v * 0.5 / (2 + 1e-6))], Run(backend, g, w, maxNorm: 0.5).Update, 1e-12, 0, "max-norm 0.5");
    }

    /// <summary><c>update-every</c> 3: steps 0 and 3 solve, steps 1, 2 reuse step 0's α on their own gradients; float64.</summary>
    [Fact]
    public void Update_every_reuses_the_last_alpha()
    {
        var backend = TestDevices.Reference;
        using var combiner = new NashMtlCombiner<double>(backend, maxNorm: 0, updateEvery: 3);
        double[] w = [1, 1, 1];
        var solved = new List<double[]>();
        for (int s = 0; s < 4; s++)
        {
            var g = Conflicting(3, 15, seed: 40 + s);
            var update = CombinationTestSupport.Run(backend, combiner, g, w);
            var a = backend.ToArray(combiner.Coefficients);
            if (s % 3 == 0)
            {
                Tolerance.AllClose(ReferenceAlpha(CombinationTestSupport.GramOf(g)), a, 1e-9, 0, $"step {s} solves");
                solved.Add(a);
            }
            else Tolerance.AllClose(solved[^1], a, 0, 0, $"step {s} reuses");
            Tolerance.AllClose(CombinationTestSupport.Combination(a, g), update, 1e-12, 1e-14, $"step {s}: Σ aᵢgᵢ");
        }
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) against float64 for T = 2..6 and unequal
    /// weights, default clipping: rtol 1e-4 + atol 1e-5·max|update| (the float32 Gram's rounding, amplified by the
    /// conditioning of GᵀG + diag(1/α²)).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 2000 : 20_003;
        for (int tasks = 2; tasks <= 6; tasks++)
        {
            var g = Conflicting(tasks, length, seed: tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
            var expected = Run(TestDevices.Reference, g, w, maxNorm: 1).Update;
            Tolerance.AllClose(expected, Run(backend, g, w, maxNorm: 1).Update, 1e-4, 1e-5 * expected.Max(Math.Abs), $"T = {tasks}");
        }
    }

    /// <summary>Through the registry: <c>nash-mtl</c> and <c>gls+nash-mtl</c> train (loss down), a warm step allocates
    /// nothing, and the options reach the combiner.</summary>
    [Theory]
    [InlineData("nash-mtl")]
    [InlineData("gls+nash-mtl")]
    public void Nash_mtl_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method,
            new Dictionary<string, string> { ["max-norm"] = "2", ["update-every"] = "2", ["max-iterations"] = "50" },
            step =>
            {
                var combiner = Assert.IsType<NashMtlCombiner<float>>(step.Combiner);
                Assert.Equal((2.0, 2, 50), (combiner.MaxNorm, combiner.UpdateEvery, combiner.MaxIterations));
            });
}
