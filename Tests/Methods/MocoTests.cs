using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>moco</c> (Fernando et al. 2023): against a float64 reference written here on the vectors (a sort-based simplex
/// projection), over several steps so the tracked gradients and λ carry, on every device; against LibMTL's
/// <c>MoCo.backward</c> in PyTorch 1.13; the paper's fixed point (on fixed gradients, β = 1, ρ = 0, λ converges to MGDA's
/// min-norm weights) and λ on the simplex at every step; scale invariance of the normalised update; training through
/// the registry and the CLI with no allocation per warm step (the resume: <c>UncertaintyResumeTests</c>).
/// </summary>
public sealed class MocoTests
{
    private static MocoParameters Settings(double beta = 0.5, double betaSigma = 0.5, double gamma = 0.1, double gammaSigma = 0.5,
        double rho = 0, bool normalize = true, bool softmax = false) =>
        new(beta, betaSigma, gamma, gammaSigma, rho, normalize ? MocoSolver.NormalizeByLoss : MocoSolver.NoNormalization,
            softmax ? MocoSolver.Softmax : MocoSolver.Projection);

    /// <summary>A combiner on <paramref name="backend"/> with its own loss buffer, and one step: losses uploaded, then
    /// <see cref="CombinationTestSupport.Run"/>.</summary>
    private sealed class Harness<T> : IDisposable where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        private readonly DeviceBuffer<T> _losses;
        public Harness(Backend<T> backend, int tasks, int length, MocoParameters p)
        {
            Backend = backend;
            _losses = backend.Allocate<T>(tasks);
            Combiner = new MocoCombiner<T>(backend, tasks, length, _losses.View, p);
        }
        public Backend<T> Backend { get; }
        public MocoCombiner<T> Combiner { get; }
        public double[] Step(double[][] g, double[] w, double[] losses)
        {
            Backend.Upload<T>(Array.ConvertAll(losses, T.CreateTruncating), _losses.View);
            return CombinationTestSupport.Run(Backend, Combiner, g, w);
        }
        public double[] Lambda => Array.ConvertAll(Backend.ToArray(Combiner.Lambda), double.CreateTruncating);
        public void Dispose() { Combiner.Dispose(); _losses.Dispose(); }
    }

    // ---- the reference, written apart from Kernels/Combination/MocoSolver.cs (on the vectors; projection by sorting)

    /// <summary>The Euclidean projection onto the simplex by sorting (Duchi et al. 2008, Fig. 1): u = v sorted down,
    /// ρ = max{j : uⱼ − (Σ_{k≤j} uₖ − 1)/j &gt; 0}, θ = (Σ_{k≤ρ} uₖ − 1)/ρ, λ = max(v − θ, 0).</summary>
    private static double[] ProjectBySorting(double[] v)
    {
        var u = v.OrderByDescending(x => x).ToArray();
        double sum = 0, theta = 0;
        for (int j = 0; j < u.Length; j++)
        {
            sum += u[j];
            double candidate = (sum - 1) / (j + 1);
            if (u[j] - candidate > 0) theta = candidate;
        }
        return [.. v.Select(x => Math.Max(x - theta, 0))];
    }

    /// <summary>The state of Algorithm 1 (y, λ, t) and one step of it on the weighted gradients.</summary>
    private sealed class Reference(int tasks, int length, MocoParameters p)
    {
        public double[][] Y = [.. Enumerable.Range(0, tasks).Select(_ => new double[length])];
        public double[] Lambda = [.. Enumerable.Repeat(1.0 / tasks, tasks)];
        private int _t;

        public double[] Step(double[][] g, double[] w, double[] losses)
        {
            _t++;
            double beta = p.Beta / Math.Pow(_t, p.BetaSigma), gamma = p.Gamma / Math.Pow(_t, p.GammaSigma);
            for (int i = 0; i < tasks; i++)
            {
                double norm = Math.Sqrt(CombinationTestSupport.Dot(g[i], g[i]));
                double s = p.Normalization == MocoSolver.NormalizeByLoss ? (norm > 0 ? w[i] * losses[i] / norm : 0) : w[i];
                for (int k = 0; k < length; k++) Y[i][k] -= beta * (Y[i][k] - s * g[i][k]);
            }
            var v = new double[tasks];
            for (int i = 0; i < tasks; i++)
            {
                double gl = p.Rho * Lambda[i];
                for (int j = 0; j < tasks; j++) gl += CombinationTestSupport.Dot(Y[i], Y[j]) * Lambda[j];
                v[i] = Lambda[i] - gamma * gl;
            }
            if (p.Update == MocoSolver.Softmax)
            {
                var e = v.Select(Math.Exp).ToArray();
                Lambda = [.. e.Select(x => x / e.Sum())];
            }
            else Lambda = ProjectBySorting(v);
            return CombinationTestSupport.Combination(Lambda, Y);
        }
    }

    /// <summary>LibMTL's <c>MoCo.backward</c> (rep_grad off: gᵢ/(‖gᵢ‖ + 1e-8)·Lᵢ, the decayed rates, softmax) in PyTorch
    /// 1.13, float64, four steps of T = 3 (Tests/Fixtures/make_moco_libmtl.py), its defaults and a second setting with
    /// ρ = 0.5 and a large γ (λ moves): the update and λ of every step, rtol 1e-5 float32 on every device, 1e-7 float64
    /// (LibMTL's 1e-8 beside norms near 1).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_MoCo_in_PyTorch(string device)
    {
        double[][][] g =
        [
            MethodTraining.FixtureGradients(),
            [[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1], [-0.6, 0.2, 0.1, 0.4, -0.5, 0.3]],
            [[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2], [0.3, -0.8, 0.6, 0.2, 0.1, -0.1]],
            [[0.4, -0.2, 0.1, -0.7, 0.3, 0.5], [-0.2, -0.5, 0.6, 0.3, -0.1, 0.4], [0.5, 0.4, -0.3, 0.1, 0.6, -0.2]],
        ];
        double[][] losses = [[0.8, 1.3, 0.5], [0.7, 1.1, 0.6], [0.65, 0.9, 0.55], [0.6, 0.8, 0.5]];
        double[][] defaultsUpdate =
        [
            [-0.002695442450802857, -0.09320619226889518, -0.0032198619394570513, 0.05245716322785403, -0.03049242961879306, 0.20933235010341966],
            [0.04055611105570762, 0.019348450841025516, 0.06036982791963724, 0.07399072928383182, -0.0025252192599316027, 0.15794965443446166],
            [0.020270377037495967, -0.0016913056971358652, 0.08118748447080489, 0.04605512322337148, -0.0192261141043608, 0.13832196934033264],
            [0.04265232145477543, -0.02846243278645709, 0.09452243404082762, 0.02554071174118884, 0.019546812929177156, 0.14743810668286728],
        ];
        double[][] defaultsLambda =
        [
            [0.3343352128656179, 0.33116336655339335, 0.33450142058098875],
            [0.33425533384265016, 0.33177512537290976, 0.33396954078444],
            [0.33392697756979134, 0.3323754177260698, 0.33369760470413884],
            [0.33357255948968056, 0.33254992551064116, 0.3338775149996782],
        ];
        double[][] movingUpdate =
        [
            [0.0698618827791217, -0.10285576738078056, -0.04067276692987823, -0.009002162845133131, -0.017920180018721907, 0.336135586529844],
            [0.0916673661995297, 0.14043857208360228, 0.13598943450205164, 0.10961817791529699, 0.025453147508027074, 0.1315591998422157],
            [0.0052304330610644, 0.001209462481961257, 0.13323636746259915, 0.013103564662654943, -0.03606752254603713, 0.10151571045660002],
            [0.07812424611699507, -0.0702749490390054, 0.12959105505204752, -0.01539072374236275, 0.08424269075965621, 0.14463140582915426],
        ];
        double[][] movingLambda =
        [
            [0.38881509405260045, 0.20964382543229668, 0.40154108051510295],
            [0.3339527588526743, 0.3301262958575454, 0.33592094528978034],
            [0.33614805157267996, 0.33243712120840374, 0.33141482721891624],
            [0.319305375476066, 0.32544006230479283, 0.35525456221914103],
        ];
        foreach (var (p, update, lambda) in new[]
        {
            (Settings(softmax: true), defaultsUpdate, defaultsLambda),
            (Settings(beta: 0.9, betaSigma: 0.2, gamma: 2, gammaSigma: 0.3, rho: 0.5, softmax: true), movingUpdate, movingLambda),
        })
        {
            Check(TestDevices.Get(device), p, update, lambda, 1e-5, 1e-6);
            Check(TestDevices.Reference, p, update, lambda, 1e-7, 1e-8);
        }

        void Check<T>(Backend<T> backend, MocoParameters p, double[][] update, double[][] lambda, double rtol, double atol)
            where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            using var moco = new Harness<T>(backend, 3, 6, p);
            for (int s = 0; s < 4; s++)
            {
                Tolerance.AllClose(update[s], moco.Step(g[s], [1, 1, 1], losses[s]), rtol, atol, $"γ = {p.Gamma}, update of step {s + 1}");
                Tolerance.AllClose(lambda[s], moco.Lambda, rtol, atol, $"γ = {p.Gamma}, λ of step {s + 1}");
            }
        }
    }

    /// <summary>float32 (CPU SIMD tracking, Gram and combination + the float64 solves; ILGPU) and float64 against the
    /// reference over six steps (y, λ and t carried) for T = 2..5 (2 and 4, P = 257, on ILGPU's slow CPU emulation), unequal weights and losses, each normalisation and each
    /// λ update, a γ large enough that the projection clips λ to a face of the simplex: rtol 1e-4 + atol 1e-5·max|result|
    /// float32, 1e-10 float64; λ and Y too.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 257 : 20_003;   // ILGPU's CPU emulation runs one thread at a time
        bool clipped = false;
        int[] taskCounts = TestDevices.IsEmulated(device) ? [2, 4] : [2, 3, 4, 5];
        foreach (int tasks in taskCounts)
            foreach (var (normalize, softmax) in new[] { (true, false), (false, false), (true, true), (false, true) })
            {
                var p = Settings(beta: 0.6, betaSigma: 0.3, gamma: normalize ? 1.5 : 30.0 / length, gammaSigma: 0.4, rho: 0.1, normalize: normalize, softmax: softmax);
                double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
                var reference = new Reference(tasks, length, p);
                using var fast = new Harness<float>(backend, tasks, length, p);
                using var exact = new Harness<double>(TestDevices.Reference, tasks, length, p);
                string what = $"T = {tasks}, normalize {normalize}, softmax {softmax}";
                for (int s = 0; s < 6; s++)
                {
                    var g = CombinationTestSupport.RandomGradients(tasks, length, seed: 700 + 10 * tasks + s);
                    double[] losses = [.. Enumerable.Range(0, tasks).Select(i => 0.3 + 0.2 * i + 0.05 * s)];
                    var expected = reference.Step(g, w, losses);
                    double scale = expected.Max(Math.Abs);
                    Tolerance.AllClose(expected, fast.Step(g, w, losses), 1e-4, 1e-5 * scale, $"{what}, step {s}");
                    Tolerance.AllClose(reference.Lambda, fast.Lambda, 1e-4, 1e-6, $"{what}, λ of step {s}");
                    Tolerance.AllClose(expected, exact.Step(g, w, losses), 1e-10, 1e-12 * scale, $"float64, {what}, step {s}");
                    Tolerance.AllClose(reference.Lambda, exact.Lambda, 1e-10, 1e-13, $"float64, {what}, λ of step {s}");
                    clipped |= !softmax && reference.Lambda.Any(l => l == 0);
                }
                Tolerance.AllClose([.. reference.Y.SelectMany(r => r)], TestDevices.Reference.ToArray(exact.Combiner.Tracked), 1e-10, 1e-13, $"Y, {what}");
            }
        Assert.True(clipped, "no step put λ on a face of the simplex: the projection's clipping was not exercised");
    }

    /// <summary>MGDA's min-norm weights argmin_{λ∈Δ} λᵀGλ exactly, by active sets: for each support S the stationary point
    /// on its face, λ_S = G_S⁻¹1/(1ᵀG_S⁻¹1) (Gaussian elimination), kept when positive; the least λᵀGλ among them.</summary>
    private static double[] MinNormWeights(double[][] g)
    {
        int t = g.Length;
        double[] best = [];
        double bestValue = double.PositiveInfinity;
        for (int mask = 1; mask < 1 << t; mask++)
        {
            int[] s = [.. Enumerable.Range(0, t).Where(i => (mask >> i & 1) != 0)];
            int n = s.Length;
            var a = new double[n, n + 1];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++) a[i, j] = CombinationTestSupport.Dot(g[s[i]], g[s[j]]);
                a[i, n] = 1;
            }
            for (int c = 0; c < n; c++)
            {
                int pivot = Enumerable.Range(c, n - c).MaxBy(r => Math.Abs(a[r, c]));
                for (int k = 0; k <= n; k++) (a[c, k], a[pivot, k]) = (a[pivot, k], a[c, k]);
                for (int r = 0; r < n; r++)
                {
                    if (r == c) continue;
                    double f = a[r, c] / a[c, c];
                    for (int k = 0; k <= n; k++) a[r, k] -= f * a[c, k];
                }
            }
            var x = Enumerable.Range(0, n).Select(i => a[i, n] / a[i, i]).ToArray();
            double total = x.Sum();
            if (x.Any(v => !(v / total > 0))) continue;
            var lambda = new double[t];
            for (int i = 0; i < n; i++) lambda[s[i]] = x[i] / total;
            var d = CombinationTestSupport.Combination(lambda, g);
            double value = CombinationTestSupport.Dot(d, d);
            if (value < bestValue) (best, bestValue) = (lambda, value);
        }
        return best;
    }

    /// <summary>The paper's fixed point: with β = 1 (σ_β = 0) y is the gradient itself, and with fixed gradients, ρ = 0 and a
    /// constant γ = 1/tr G ≤ 1/λ_max(G) the λ step is projected gradient descent on ½λᵀGλ over the simplex, so λ converges
    /// to MGDA's min-norm weights (<see cref="MinNormWeights"/>) and the update to the min-norm point; T = 3 (all three
    /// weights inside) and T = 4 with a dominated task (its weight 0, on the boundary): 1e-9 after 2000 steps, float64. λ is
    /// on the simplex (Σ = 1 to 1e-12, ≥ 0) after every step, for both λ updates.</summary>
    [Fact]
    public void On_fixed_gradients_lambda_converges_to_the_min_norm_weights_and_stays_on_the_simplex()
    {
        var backend = TestDevices.Reference;
        double[][][] cases =
        [
            MethodTraining.FixtureGradients(),
            [.. MethodTraining.FixtureGradients(), [0.6, -0.2, 0.1, -0.3, 0.1, 1.1]],
        ];
        bool boundary = false;
        foreach (var g in cases)
        {
            int tasks = g.Length;
            double[] w = [.. Enumerable.Repeat(1.0, tasks)];
            double trace = g.Sum(r => CombinationTestSupport.Dot(r, r));
            var p = Settings(beta: 1, betaSigma: 0, gamma: 1 / trace, gammaSigma: 0, rho: 0, normalize: false);
            using var moco = new Harness<double>(backend, tasks, 6, p);
            double[] update = [];
            for (int s = 0; s < 2000; s++)
            {
                update = moco.Step(g, w, new double[tasks]);
                Assert.Equal(1.0, moco.Lambda.Sum(), 1e-12);
                Assert.All(moco.Lambda, l => Assert.True(l >= 0, $"λ = {l} < 0 at step {s}"));
            }
            var weights = MinNormWeights(g);
            Tolerance.AllClose(weights, moco.Lambda, 1e-9, 1e-10, $"λ against the min-norm weights, T = {tasks}");
            Tolerance.AllClose(CombinationTestSupport.Combination(weights, g), update, 1e-9, 1e-10, $"the update against the min-norm point, T = {tasks}");
            Assert.True(moco.Lambda.Any(l => l < 0.3), "λ moved away from its uniform start");
            boundary |= weights.Any(a => a == 0);
        }
        Assert.True(boundary, "no case had a min-norm weight of 0");

        using var softmax = new Harness<double>(backend, 4, 30, Settings(gamma: 3, softmax: true));
        for (int s = 0; s < 20; s++)
        {
            softmax.Step(CombinationTestSupport.RandomGradients(4, 30, seed: 90 + s), [1, 2, 0.5, 1], [0.5, 1, 2, 0.7]);
            Assert.Equal(1.0, softmax.Lambda.Sum(), 1e-12);
            Assert.All(softmax.Lambda, l => Assert.True(l > 0));
        }
    }

    /// <summary>With normalization=loss the tracked vectors are gᵢ·Lᵢ/‖gᵢ‖: gradients ×1e-8 give the same update over three
    /// steps (rtol 1e-9, float64); without it y scales with the gradients but λ's step does not (γG λ shrinks), so the
    /// update is not simply ×1e-8.</summary>
    [Fact]
    public void The_normalised_update_does_not_depend_on_the_gradients_scale()
    {
        var backend = TestDevices.Reference;
        foreach (bool normalize in new[] { true, false })
        {
            var p = Settings(gamma: 2, normalize: normalize);
            using var a = new Harness<double>(backend, 4, 30, p);
            using var b = new Harness<double>(backend, 4, 30, p);
            double worst = 0;
            for (int s = 0; s < 3; s++)
            {
                var g = CombinationTestSupport.RandomGradients(4, 30, seed: 40 + s);
                double[] w = [1, 1.5, 0.75, 1.25], losses = [0.4, 0.9, 1.3, 0.6];
                var result = a.Step(g, w, losses);
                var tiny = b.Step([.. g.Select(r => r.Select(v => v * 1e-8).ToArray())], w, losses);
                if (normalize) Tolerance.AllClose(result, tiny, 1e-9, 1e-14, $"scale 1e-8, step {s}");
                else worst = Math.Max(worst, result.Zip(tiny, (x, y) => Math.Abs(x - 1e8 * y)).Max());
            }
            if (!normalize) Assert.True(worst > 1e-3, $"without the normalisation λ's step depends on the scale ({worst})");
        }
    }

    /// <summary>Settings outside their domains are refused when the combiner is built: β ∉ (0, 1], γ ≤ 0, a negative σ or ρ,
    /// an unknown normalisation or λ update; in range they are accepted.</summary>
    [Fact]
    public void Settings_outside_their_domains_are_refused()
    {
        var backend = TestDevices.Reference;
        foreach (var bad in new[]
        {
            Settings(beta: 0), Settings(beta: 1.5), Settings(gamma: 0), Settings(gamma: double.PositiveInfinity), Settings(betaSigma: -0.1),
            Settings(gammaSigma: -1), Settings(rho: -0.5), new MocoParameters(0.5, 0.5, 0.1, 0.5, 0, 2, 0), new MocoParameters(0.5, 0.5, 0.1, 0.5, 0, 0, 7),
        })
            Assert.Throws<ArgumentOutOfRangeException>(() => new Harness<double>(backend, 2, 4, bad));
        using var fine = new Harness<double>(backend, 2, 4, Settings(beta: 1, betaSigma: 0, gamma: 5, gammaSigma: 0, rho: 2));
        Assert.Equal([0.5, 0.5], fine.Lambda);
    }

    /// <summary>Through the registry: <c>moco</c> (options reach the combiner) and <c>gls+moco</c> train (loss down), a warm
    /// step allocates nothing, and the device step counter has counted the 204 steps.</summary>
    [Theory]
    [InlineData("moco")]
    [InlineData("gls+moco")]
    public void Moco_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method) =>
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["gamma"] = "0.5", ["beta-sigma"] = "0.25", ["lambda-update"] = "softmax", ["rho"] = "0.1" },
            step =>
            {
                var combiner = Assert.IsType<MocoCombiner<float>>(step.Combiner);
                Assert.Equal((0.5, 0.25, 0.1, MocoSolver.Softmax, MocoSolver.NormalizeByLoss),
                    (combiner.Parameters.Gamma, combiner.Parameters.BetaSigma, combiner.Parameters.Rho, combiner.Parameters.Update, combiner.Parameters.Normalization));
                Assert.Equal([204f], combiner.Backend.ToArray(combiner.StateBuffers[2].Values));
                Assert.Equal(1.0, combiner.Backend.ToArray(combiner.Lambda).Sum(), 1e-5);
            });

    /// <summary><c>mtl train --method moco --method-option gamma=0.5 --method-option normalization=none</c> trains (exit 0);
    /// gamma=0 and an unknown λ update are usage errors naming them.</summary>
    [Fact]
    public void Mtl_train_takes_moco_and_its_options()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"moco-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "moco", "--method-option", "gamma=0.5", "--method-option", "normalization=none"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "moco", "--method-option", "gamma=0"]), 2, "option 'gamma': '0'");
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "moco", "--method-option", "lambda-update=mirror"]), 2, "lambda-update");
        }
        finally { File.Delete(csv); }
    }
}
