using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>fairgrad</c> (Ban &amp; Ji 2024): β against a float64 reference written here with another algorithm (cyclic
/// coordinate minimisation, each coordinate's equation solved by bisection); LibMTL's FairGrad (scipy least_squares) run in
/// PyTorch 1.13; the paper's special cases (α = 1 is Nash-MTL's equation, orthogonal gradients in closed form, α → ∞ equal
/// utilities: max-min fairness, α → 0 the plain sum) and the scaling law; the degenerate cases; float32 on every device against float64;
/// training through the registry (no allocation per warm step) and <c>mtl train --method fairgrad</c>.
/// </summary>
public sealed class FairGradTests
{
    // ---- the reference, written apart from Kernels/Combination/FairGradSolver.cs

    /// <summary>β &gt; 0 with Mβ = β^(−1/α) by cyclic coordinate minimisation of ½βᵀMβ − Σ φ(β): coordinate i's minimiser
    /// is the root of Mᵢᵢb + sᵢ − b^(−1/α) (sᵢ = Σ_{j≠i} Mᵢⱼβⱼ; increasing in b), bracketed and bisected in log b to the
    /// last bit. Run until a sweep moves nothing.</summary>
    private static double[] ReferenceBeta(double[,] m, double alpha)
    {
        int t = m.GetLength(0);
        var b = new double[t];
        for (int i = 0; i < t; i++) b[i] = 1;
        for (int sweep = 0; sweep < 2_000_000; sweep++)
        {
            double moved = 0, largest = 0;
            for (int i = 0; i < t; i++)
            {
                double s = 0;
                for (int j = 0; j < t; j++)
                    if (j != i) s += m[i, j] * b[j];
                double H(double v) => m[i, i] * v + s - Math.Pow(v, -1 / alpha);
                double lo = b[i], hi = b[i];
                while (H(lo) > 0) lo /= 2;
                while (H(hi) < 0) hi *= 2;
                for (int k = 0; k < 200 && hi > lo * (1 + 1e-16); k++)
                {
                    double mid = Math.Sqrt(lo * hi);
                    if (H(mid) < 0) lo = mid; else hi = mid;
                }
                double next = 0.5 * (lo + hi);
                moved = Math.Max(moved, Math.Abs(next - b[i]));
                largest = Math.Max(largest, next);
                b[i] = next;
            }
            if (moved <= 1e-15 * largest) return b;
        }
        throw new InvalidOperationException("coordinate minimisation did not converge");
    }

    /// <summary>max |βᵢ^(1/α)(Mβ)ᵢ − 1|: the residual of Mβ = β^(−1/α), relative by construction (for α = 1 the
    /// proportional-fairness condition βᵢ·(Mβ)ᵢ = 1).</summary>
    private static double Residual(double[,] m, double[] b, double alpha)
    {
        double worst = 0;
        for (int i = 0; i < b.Length; i++)
        {
            double row = 0;
            for (int j = 0; j < b.Length; j++) row += m[i, j] * b[j];
            worst = Math.Max(worst, Math.Abs(Math.Pow(b[i], 1 / alpha) * row - 1));
        }
        return worst;
    }

    /// <summary>Runs one step; returns the combined gradient and the coefficients a (result = Σ aᵢgᵢ).</summary>
    private static (double[] Update, double[] Coefficients) Run<T>(Backend<T> backend, double[][] g, double[] w, double alpha)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var combiner = new FairGradCombiner<T>(backend, alpha);
        var update = CombinationTestSupport.Run(backend, combiner, g, w);
        return (update, Array.ConvertAll(backend.ToArray(combiner.Coefficients), double.CreateTruncating));
    }

    /// <summary>Random task gradients with conflict: row 1 pulled toward −row 0.</summary>
    private static double[][] Conflicting(int tasks, int length, int seed)
    {
        var g = CombinationTestSupport.RandomGradients(tasks, length, seed);
        g[1] = [.. g[1].Select((v, k) => 0.6 * v - 0.8 * g[0][k])];
        return g;
    }

    /// <summary>float64: the coefficients solve G̃β = β^(−1/α) (residual ≤ 1e-9) and equal the coordinate-minimisation
    /// reference (rtol 1e-8) for α ∈ {0.5, 1, 2, 5}, T = 2..5, random and conflicting gradients of unequal norms, unequal
    /// weights (a = wβ, β solving the weighted Gram's equation).</summary>
    [Fact]
    public void Beta_solves_the_fairness_equation_and_matches_the_reference()
    {
        foreach (double alpha in new[] { 0.5, 1, 2, 5 })
            for (int tasks = 2; tasks <= 5; tasks++)
                for (int kind = 0; kind < 2; kind++)
                {
                    var g = kind == 0 ? CombinationTestSupport.RandomGradients(tasks, 40, seed: 7 * tasks) : Conflicting(tasks, 40, seed: 3 + tasks);
                    g = [.. g.Select((r, i) => r.Select(v => v * (0.2 + i)).ToArray())];
                    double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
                    var gram = CombinationTestSupport.GramOf(MethodTraining.Weighted(g, w));
                    var (_, a) = Run(TestDevices.Reference, g, w, alpha);
                    double[] beta = [.. a.Select((v, i) => v / w[i])];
                    string what = $"α = {alpha}, T = {tasks}, {(kind == 0 ? "random" : "conflicting")}";
                    Assert.True(Residual(gram, beta, alpha) <= 1e-9, $"{what}: residual {Residual(gram, beta, alpha):e3}");
                    Tolerance.AllClose(ReferenceBeta(gram, alpha), beta, 1e-8, 0, what);
                }
    }

    /// <summary>LibMTL's FairGrad (Tests/Fixtures/make_fairgrad_libmtl.py: its backward, scipy least_squares from 1/T, on
    /// losses linear in a shared parameter) for the fixture gradients and the rows scaled by (2, ½, 1), FairGrad_alpha 1,
    /// 2 and 0.5: the shared gradient within rtol 1e-7 in float64 (least_squares stops at relative residuals up to 5.6e-9)
    /// and 1e-5 on every float32 device.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_FairGrad(string device)
    {
        var g0 = MethodTraining.FixtureGradients();
        var scaled = MethodTraining.Weighted(g0, [2, 0.5, 1]);
        var cases = new (double[][] G, double Alpha, double[] Shared)[]
        {
            (g0, 1.0, [0.3031999903308488, -0.3879012517124297, -0.3284566239734161, 0.04651249017624828, -0.05582184416875671, 1.6261731583442716]),
            (g0, 2.0, [0.26202535078273015, -0.3574743287876614, -0.30434002716832953, 0.06677557868205614, -0.05498296471255612, 1.4939590827364206]),
            (g0, 0.5, [0.3539865590546528, -0.4215379139880603, -0.3530075788489371, 0.01565175180478734, -0.05571001677570159, 1.7706123134718115]),
            (scaled, 1.0, [0.3031999903309427, -0.38790125171237916, -0.3284566239736021, 0.04651249017624132, -0.0558218441687173, 1.6261731583445653]),
            (scaled, 2.0, [0.11819052359576858, -0.42847265639701015, -0.281424098499913, 0.27235878803800806, -0.10786456744716902, 1.539974442317392]),
            (scaled, 0.5, [0.5759442878258287, -0.3964680623315243, -0.34271368086130344, -0.2939179236497067, -0.0022433510426223546, 1.7959780021041278]),
        };
        foreach (var (g, alpha, shared) in cases)
        {
            Tolerance.AllClose(shared, Run(TestDevices.Reference, g, [1, 1, 1], alpha).Update, 1e-7, 1e-9, $"float64, α = {alpha}");
            Tolerance.AllClose(shared, Run(TestDevices.Get(device), g, [1, 1, 1], alpha).Update, 1e-5, 1e-6, $"{device}, α = {alpha}");
        }
    }

    /// <summary>The paper: α = 1 is proportional fairness, the equation Nash-MTL solves; the coefficients equal
    /// <c>nash-mtl</c>'s with no clipping (rtol 1e-10), T = 2..5, conflicting gradients.</summary>
    [Fact]
    public void Alpha_one_is_nash_mtl()
    {
        var backend = TestDevices.Reference;
        for (int tasks = 2; tasks <= 5; tasks++)
        {
            var g = Conflicting(tasks, 30, seed: 20 + tasks);
            double[] w = [.. Enumerable.Range(0, tasks).Select(i => 1.0 + 0.5 * i)];
            using var nash = new NashMtlCombiner<double>(backend, maxNorm: 0);
            CombinationTestSupport.Run(backend, nash, g, w);
            Tolerance.AllClose(backend.ToArray(nash.Coefficients), Run(backend, g, w, 1.0).Coefficients, 1e-10, 0, $"T = {tasks}");
        }
    }

    /// <summary>Orthogonal gradients (GᵀG diagonal): βᵢ = ‖gᵢ‖^(−2α/(1+α)) in closed form, to 1e-12, for α ∈ {0.5, 1, 3}.</summary>
    [Fact]
    public void Orthogonal_gradients_have_the_closed_form()
    {
        double[] norms = [3.0, 0.02, 1.5, 7];
        int t = norms.Length;
        var g = Enumerable.Range(0, t).Select(i => Enumerable.Range(0, t + 2).Select(k => k == i ? norms[i] : 0.0).ToArray()).ToArray();
        foreach (double alpha in new[] { 0.5, 1, 3 })
            Tolerance.AllClose([.. norms.Select(n => Math.Pow(n, -2 * alpha / (1 + alpha)))],
                Run(TestDevices.Reference, g, [1, 1, 1, 1], alpha).Coefficients, 1e-12, 0, $"α = {alpha}");
    }

    /// <summary>The paper's α → ∞ limit is max-min fairness: G̃β → 1, every task's utility g̃ᵢ·d = (G̃β)ᵢ the same. With
    /// α = 10⁶ the utilities agree to 1e-4 and β is G̃⁻¹1 (positive for these gradients) to rtol 1e-4.</summary>
    [Fact]
    public void Large_alpha_equalises_the_utilities()
    {
        var g = MethodTraining.FixtureGradients();
        var gram = CombinationTestSupport.GramOf(g);
        var (_, beta) = Run(TestDevices.Reference, g, [1, 1, 1], 1e6);
        var utilities = Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 3).Sum(j => gram[i, j] * beta[j])).ToArray();
        Assert.All(utilities, u => Assert.Equal(1.0, u, 1e-4));
        var inverse = ReferenceBeta(gram, 1e12);   // the reference at α = 10¹²: G̃β = 1 to rounding
        Assert.All(inverse, v => Assert.True(v > 0));
        Tolerance.AllClose(inverse, beta, 1e-4, 0, "β = G̃⁻¹1");
    }

    /// <summary>The paper's α → 0 limit is utilitarian (linear scalarisation): β → 1, d → Σ g̃ᵢ. To first order in α,
    /// βᵢ = (G̃1)ᵢ^(−α) (here G̃1 &gt; 0); with α = 10⁻³ β matches it within rtol 2e-6 (the O(α²) term is below 1e-6 for
    /// the fixture gradients, by a float64 solve in numpy), lies within 10⁻³ of 1, and matches the reference (rtol 1e-8).</summary>
    [Fact]
    public void Small_alpha_tends_to_the_plain_sum()
    {
        var g = MethodTraining.FixtureGradients();
        var gram = CombinationTestSupport.GramOf(g);
        const double alpha = 1e-3;
        var (_, beta) = Run(TestDevices.Reference, g, [1, 1, 1], alpha);
        double[] firstOrder = [.. Enumerable.Range(0, 3).Select(i => Math.Pow(Enumerable.Range(0, 3).Sum(j => gram[i, j]), -alpha))];
        Tolerance.AllClose(firstOrder, beta, 2e-6, 0, "β = (G̃1)^(−α) + O(α²)");
        Assert.All(beta, v => Assert.InRange(v, 1 - 1e-3, 1));
        Tolerance.AllClose(ReferenceBeta(gram, alpha), beta, 1e-8, 0, "reference");
    }

    /// <summary>Scaling every gradient by c scales β by c^(−2α/(1+α)) and the update by c^((1−α)/(1+α)) (rtol 1e-10),
    /// c = 1e-4 and 300, α = 2 and 0.5; task weights act as per-task scales (weight c on a row = the row ×c).</summary>
    [Fact]
    public void Scaling_the_gradients_follows_the_scaling_law()
    {
        var backend = TestDevices.Reference;
        var g = Conflicting(4, 30, seed: 5);
        double[] ones = [1, 1, 1, 1];
        foreach (double alpha in new[] { 2, 0.5 })
        {
            var (update, beta) = Run(backend, g, ones, alpha);
            foreach (double c in new[] { 1e-4, 300 })
            {
                var (u, b) = Run(backend, [.. g.Select(r => r.Select(v => v * c).ToArray())], ones, alpha);
                Tolerance.AllClose([.. beta.Select(v => v * Math.Pow(c, -2 * alpha / (1 + alpha)))], b, 1e-10, 0, $"β, α = {alpha}, c = {c}");
                Tolerance.AllClose([.. update.Select(v => v * Math.Pow(c, (1 - alpha) / (1 + alpha)))], u, 1e-10, 1e-300, $"update, α = {alpha}, c = {c}");
            }
            double[] w = [1e-3, 3, 1, 250];
            Tolerance.AllClose(Run(backend, MethodTraining.Weighted(g, w), ones, alpha).Update, Run(backend, g, w, alpha).Update, 1e-10, 1e-14, "weights");
        }
    }

    /// <summary>A zero-gradient task (or weight 0) is left out (β = 0, the others solved alone); opposite gradients and
    /// three whose sum vanishes (Pareto-stationary: no β exists) give the update 0; all zero gives 0; α = 2.</summary>
    [Fact]
    public void Degenerate_gram_matrices_are_handled()
    {
        var backend = TestDevices.Reference;
        var g = Conflicting(3, 20, seed: 11);
        var others = Run(backend, [g[0], g[2]], [1, 1], 2);
        var (withZero, a) = Run(backend, [g[0], new double[20], g[2]], [1, 1, 1], 2);
        Tolerance.AllClose(others.Update, withZero, 1e-12, 1e-14, "zero gradient");
        Assert.Equal(0.0, a[1]);
        Tolerance.AllClose(others.Update, Run(backend, g, [1, 0, 1], 2).Update, 1e-12, 1e-14, "weight 0");
        var minus = g[0].Select(v => -2 * v).ToArray();
        Assert.All(Run(backend, [g[0], minus], [1, 1], 2).Update, v => Assert.Equal(0.0, v));
        var third = g[0].Select((v, k) => -v - g[1][k]).ToArray();
        Assert.All(Run(backend, [g[0], g[1], third], [1, 1, 1], 2).Update, v => Assert.Equal(0.0, v));
        Assert.All(Run(backend, [new double[20], new double[20]], [1, 1], 2).Update, v => Assert.Equal(0.0, v));
    }

    /// <summary>float32 (CPU SIMD Gram and combination + the float64 solve; ILGPU) against float64 for T = 2..6, unequal
    /// weights, α = 2: rtol 1e-4 + atol 1e-5·max|update|.</summary>
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
            var expected = Run(TestDevices.Reference, g, w, 2).Update;
            Tolerance.AllClose(expected, Run(backend, g, w, 2).Update, 1e-4, 1e-5 * expected.Max(Math.Abs), $"T = {tasks}");
        }
    }

    /// <summary>Through the registry: <c>fairgrad</c> and <c>gls+fairgrad</c> train (loss down), a warm step allocates
    /// nothing, and the options reach the combiner.</summary>
    [Theory]
    [InlineData("fairgrad")]
    [InlineData("gls+fairgrad")]
    public void Fairgrad_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method, new Dictionary<string, string> { ["alpha"] = "2", ["max-iterations"] = "50" },
            step =>
            {
                var combiner = Assert.IsType<FairGradCombiner<float>>(step.Combiner);
                Assert.Equal((2.0, 50), (combiner.Alpha, combiner.MaxIterations));
            });

    /// <summary><c>mtl train --method fairgrad --method-option alpha=2</c> trains (exit 0); alpha=0 is a usage error naming it.</summary>
    [Fact]
    public void Mtl_train_takes_fairgrad_and_its_options()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"fairgrad-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "fairgrad", "--method-option", "alpha=2"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "fairgrad", "--method-option", "alpha=0"]), 2, "option 'alpha': '0'");
        }
        finally { File.Delete(csv); }
    }
}
