using System.Numerics;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>db-mtl</c> (Lin et al. 2023, DB-MTL = <c>db-mtl-l+db-mtl-g</c>): the kernels against the float64 reference
/// (<see cref="DbMtlReference"/>, LibMTL's lines on vectors) over several steps on every device; LibMTL's
/// <c>DB_MTL.backward</c> run in PyTorch 1.13 (shared and head gradients, two (β, σ) settings); the paper's properties
/// (every rescaled average has the largest norm; scaling one task's loss changes nothing, by the log); training through the
/// registry with no allocation per warm step, and <c>mtl train --method db-mtl</c>.
/// </summary>
public sealed class DbMtlTests
{
    /// <summary>Uploads the losses and the task gradients, updates <paramref name="weighting"/> from the losses (λ on the device),
    /// combines with λ, and returns the shared update and λ.</summary>
    private static (double[] Update, double[] Weights) Step<T>(Backend<T> backend, DbMtlLossWeighting<T> weighting, DbMtlCombiner<T> combiner,
        double[] losses, double[][] gradients) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int tasks = gradients.Length, length = gradients[0].Length;
        using var l = backend.Allocate<T>(Array.ConvertAll(losses, T.CreateTruncating));
        using var g = backend.Allocate<T>([.. gradients.SelectMany(r => r).Select(T.CreateTruncating)]);
        using var output = backend.Allocate<T>(length);
        weighting.Update(l.View);
        combiner.Combine(g.View, tasks, weighting.Weights, output.View);
        return (Array.ConvertAll(backend.ToArray(output.View), double.CreateTruncating),
            Array.ConvertAll(backend.ToArray(weighting.Weights), double.CreateTruncating));
    }

    // ---- LibMTL (Tests/Fixtures/make_db_mtl_libmtl.py): losses linear in a shared θ (6) and one head scalar per task.

    private static readonly double[][] FixtureLosses = [[2.0, 0.05, 30.0], [1.5, 0.04, 25.0], [1.2, 0.045, 18.0], [0.9, 0.03, 20.0]];

    private static readonly double[][][] FixtureGradients =
    [
        MethodTraining.FixtureGradients(),
        [[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1], [-0.6, 0.2, 0.1, 0.4, -0.3, 0.5]],
        [[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2], [0.3, -0.7, 0.6, 0.2, 0.1, -0.1]],
        [[-0.4, 0.8, 0.1, 0.3, -0.6, 0.2], [0.5, 0.5, -0.5, 0.0, 0.3, -0.4], [0.2, 0.1, 0.9, -0.8, 0.4, 0.6]],
    ];

    private static readonly double[][] FixtureHeads = [[0.5, -1.0, 2.0], [0.3, 0.7, -1.5], [-0.2, 0.4, 1.0], [0.6, -0.3, 0.8]];

    /// <summary>The shared gradient LibMTL's backward left after each of the four steps, for (β, σ) = (0.9, 0) and (0.5, 0.5).</summary>
    private static readonly double[][][] LibMtlShared =
    [
        [
            [0.6332867377352694, -0.7804976307330689, -1.019126524432381, 0.3339349646499845, -0.1001877187609519, 3.979370544273331],
            [1.1147604298518323, 0.39221126167880865, 0.2213265325124446, 1.1084579492755888, 0.07212321110852862, 3.7934955219582047],
            [0.43280016473938365, -1.0698499541324473, 2.3144634505743538, 1.95416944744127, -0.40748410981860705, 4.63496712949018],
            [1.002661261398411, 2.6758315465939737, 1.067722103633248, 0.41869189665182494, 0.039751126224897515, 2.598071990113877],
        ],
        [
            [3.166436274062764, -3.902478753791577, -5.095649874758482, 1.6696797952012257, -0.5009346820688063, 19.89686684748532],
            [3.8428009387885433, 6.803571410868827, 2.7904392382625107, 7.269733570923405, 1.6392541906772533, 8.831472615581214],
            [3.0961889322478666, -5.5296460561307175, 14.298729518787493, 0.9445304146553695, -2.089310113575655, 8.274320673797881],
            [8.564639088950566, 30.245150526436742, 7.646977551368989, -6.1794346480964, 0.36145048241252287, 6.0602229307424995],
        ],
    ];

    /// <summary>The heads' gradients LibMTL left (the same for both settings: ∇ of log(L + 1e-8) through each head).</summary>
    private static readonly double[][] LibMtlHeads =
    [
        [0.24999999875, -19.9999960000008, 0.06666666664444444],
        [0.19999999866666668, 17.49999562500109, -0.059999999976],
        [-0.16666666527777782, 8.888886913580686, 0.05555555552469135],
        [0.6666666592592593, -9.999996666667776, 0.039999999980000006],
    ];

    private static readonly (double Beta, double Sigma)[] FixtureSettings = [(0.9, 0), (0.5, 0.5)];

    /// <summary>LibMTL's <c>DB_MTL.backward</c> in PyTorch 1.13, float64 (Tests/Fixtures/make_db_mtl_libmtl.py), four steps of
    /// T = 3 with losses of scales 30, 2 and 0.05: the shared gradient from <c>db-mtl-l</c>'s weights then <c>db-mtl-g</c>,
    /// and the heads' gradients λₜcₜ (what the step applies to task t's own parameters). rtol 1e-5 (atol 1e-6·max) in
    /// float32 on every device; 1e-12 in float64, and the reference (<see cref="DbMtlReference"/>) too.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_DB_MTL_in_PyTorch(string device)
    {
        for (int setting = 0; setting < FixtureSettings.Length; setting++)
        {
            var (beta, sigma) = FixtureSettings[setting];
            Check(TestDevices.Get(device), 1e-5, 1e-6);
            Check(TestDevices.Reference, 1e-12, 1e-13);

            var average = new double[3][];
            for (int t = 0; t < 3; t++) average[t] = new double[6];
            for (int s = 0; s < 4; s++)
            {
                double[] w = [.. FixtureLosses[s].Select(l => 1 / (l + DbMtlReference.Epsilon))];
                Tolerance.AllClose(LibMtlShared[setting][s], DbMtlReference.Step(FixtureGradients[s], w, average, s + 1, beta, sigma), 1e-12, 1e-13,
                    $"reference, β = {beta}, σ = {sigma}, step {s + 1}");
            }

            void Check<T>(Backend<T> backend, double rtol, double atol) where T : unmanaged, IFloatingPointIeee754<T>
            {
                using var weighting = new DbMtlLossWeighting<T>(backend, 3);
                using var combiner = new DbMtlCombiner<T>(backend, 3, 6, beta, sigma);
                for (int s = 0; s < 4; s++)
                {
                    var (update, weights) = Step(backend, weighting, combiner, FixtureLosses[s], FixtureGradients[s]);
                    double scale = LibMtlShared[setting][s].Max(Math.Abs);
                    Tolerance.AllClose(LibMtlShared[setting][s], update, rtol, atol * scale, $"shared, β = {beta}, σ = {sigma}, step {s + 1}");
                    Tolerance.AllClose(LibMtlHeads[s], [.. weights.Select((l, t) => l * FixtureHeads[s][t])], rtol, atol * 20, $"heads, step {s + 1}");
                }
                Assert.Equal(4.0, double.CreateTruncating(backend.ToArray(combiner.Steps)[0]));
            }
        }
    }

    /// <summary>float32 (the CPU SIMD average, Gram and combination; ILGPU's streamed kernels) and float64 against the
    /// reference over five steps (averages carried) for T = 2..5, unequal weights, (β, σ) = (0.7, 0.5) and (0.9, 0),
    /// rows of a length that is a multiple of 4 (the float4 path) and one that is not (the scalar path): the update within
    /// rtol 1e-4 + atol 1e-5·max|update| in float32 (1e-10 float64), and the averages after the last step.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int baseLength = TestDevices.IsEmulated(device) ? 2000 : 20_000;
        foreach (var (beta, sigma) in new[] { (0.7, 0.5), (0.9, 0.0) })
            for (int tasks = 2; tasks <= 5; tasks++)
            {
                int length = baseLength + (tasks % 2 == 0 ? 0 : 3);
                double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.75 * i)];
                var average = new double[tasks][];
                for (int i = 0; i < tasks; i++) average[i] = new double[length];
                using var fast = new DbMtlCombiner<float>(backend, tasks, length, beta, sigma);
                using var exact = new DbMtlCombiner<double>(TestDevices.Reference, tasks, length, beta, sigma);
                for (int s = 0; s < 5; s++)
                {
                    // Each task's gradients at its own scale (×10^(i−2)), as tasks' gradients differ in practice.
                    var g = CombinationTestSupport.RandomGradients(tasks, length, seed: 700 + 10 * tasks + s)
                        .Select((r, i) => r.Select(v => v * Math.Pow(10, i - 2)).ToArray()).ToArray();
                    var expected = DbMtlReference.Step(g, w, average, s + 1, beta, sigma);
                    double scale = expected.Max(Math.Abs);
                    string what = $"β = {beta}, σ = {sigma}, T = {tasks}, P = {length}, step {s + 1}";
                    Tolerance.AllClose(expected, CombinationTestSupport.Run(backend, fast, g, w), 1e-4, 1e-5 * scale, what);
                    Tolerance.AllClose(expected, CombinationTestSupport.Run(TestDevices.Reference, exact, g, w), 1e-10, 1e-12 * scale, "float64, " + what);
                }
                var flat = average.SelectMany(r => r).ToArray();
                double largest = flat.Max(Math.Abs);
                Tolerance.AllClose(flat, backend.ToArray(fast.Average), 1e-4, 1e-5 * largest, $"averages, T = {tasks}");
                Tolerance.AllClose(flat, TestDevices.Reference.ToArray(exact.Average), 1e-10, 1e-12 * largest, $"float64 averages, T = {tasks}");
            }
    }

    /// <summary>The paper's rescaling, float64: after every step each task's contribution αᵢĝᵢ has the largest norm
    /// maxⱼ‖ĝⱼ‖ (to 1e-7 relative: LibMTL's 1e-8 in αᵢ's denominator, norms ≈ 0.1..10), the update is their sum, and
    /// ĝ is the EMA (1 − β)g̃ after the first step; with β = 0 the update is maxⱼ‖g̃ⱼ‖·Σᵢ g̃ᵢ/‖g̃ᵢ‖ of the current gradients.</summary>
    [Fact]
    public void Every_rescaled_average_has_the_largest_norm()
    {
        var backend = TestDevices.Reference;
        const int tasks = 4, length = 50;
        double[] w = [1, 0.5, 2, 0.25];
        using var combiner = new DbMtlCombiner<double>(backend, tasks, length, beta: 0.6);
        for (int s = 0; s < 4; s++)
        {
            var g = CombinationTestSupport.RandomGradients(tasks, length, seed: 90 + s).Select((r, i) => r.Select(v => v * (1 + 3 * i)).ToArray()).ToArray();
            var update = CombinationTestSupport.Run(backend, combiner, g, w);
            var average = backend.ToArray(combiner.Average);
            var alpha = backend.ToArray(combiner.Coefficients);
            var rows = Enumerable.Range(0, tasks).Select(i => average[(i * length)..((i + 1) * length)]).ToArray();
            if (s == 0)
                for (int i = 0; i < tasks; i++)
                    Tolerance.AllClose([.. g[i].Select(v => 0.4 * w[i] * v)], rows[i], 1e-14, 1e-15, "ĝ after step 1 = (1 − β)wg");
            double largest = rows.Max(Norm);
            var sum = new double[length];
            for (int i = 0; i < tasks; i++)
            {
                var contribution = rows[i].Select(v => alpha[i] * v).ToArray();
                Assert.Equal(1.0, Norm(contribution) / largest, 1e-7);
                sum = CombinationTestSupport.Axpy(1, contribution, sum);
            }
            Tolerance.AllClose(sum, update, 1e-13, 1e-14, $"update = Σ αᵢĝᵢ, step {s + 1}");
        }

        using var instant = new DbMtlCombiner<double>(backend, 3, 5, beta: 0);
        var h = CombinationTestSupport.RandomGradients(3, 5, seed: 5);
        double most = h.Max(Norm);
        var expected = h.Aggregate(new double[5], (acc, r) => CombinationTestSupport.Axpy(most / Norm(r), r, acc));
        Tolerance.AllClose(expected, CombinationTestSupport.Run(backend, instant, h, [1, 1, 1]), 1e-7, 1e-9, "β = 0");
    }

    /// <summary>The log makes the loss scale irrelevant (the paper's loss-scale balancing): with <c>db-mtl-l</c>, scaling task
    /// 1's loss by c (its loss and gradient ×c) leaves every step's update unchanged over three steps, for c = 100 and
    /// 0.01 (rtol 1e-6: only LibMTL's 1e-8 inside the log sees the scale, losses ≥ 0.5), float64 and float32 on the CPU.
    /// Without it (weights 1, db-mtl-g alone) the update changes when the scaled task comes to hold the largest norm.</summary>
    [Fact]
    public void Scaling_one_tasks_loss_changes_nothing()
    {
        Check(TestDevices.Reference, 1e-6);
        Check(TestDevices.Get(TestDevices.Cpu), 1e-5);

        void Check<T>(Backend<T> backend, double rtol) where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (double c in new[] { 100.0, 0.01 })
            {
                using var plainWeighting = new DbMtlLossWeighting<T>(backend, 3);
                using var scaledWeighting = new DbMtlLossWeighting<T>(backend, 3);
                using var plain = new DbMtlCombiner<T>(backend, 3, 40);
                using var scaled = new DbMtlCombiner<T>(backend, 3, 40);
                using var rawPlain = new DbMtlCombiner<T>(backend, 3, 40);
                using var rawScaled = new DbMtlCombiner<T>(backend, 3, 40);
                bool rawDiffers = false;
                for (int s = 0; s < 3; s++)
                {
                    var g = CombinationTestSupport.RandomGradients(3, 40, seed: 300 + s);
                    double[] losses = [0.5 + s, 2.0, 1.25];
                    var gc = g.Select((r, i) => i == 1 ? r.Select(v => c * v).ToArray() : r).ToArray();
                    double[] lc = [.. losses.Select((l, i) => i == 1 ? c * l : l)];
                    var (a, _) = Step(backend, plainWeighting, plain, losses, g);
                    var (b, _) = Step(backend, scaledWeighting, scaled, lc, gc);
                    Tolerance.AllClose(a, b, rtol, rtol * a.Max(Math.Abs), $"c = {c}, step {s + 1}");
                    var ra = CombinationTestSupport.Run(backend, rawPlain, g, [1, 1, 1]);
                    var rb = CombinationTestSupport.Run(backend, rawScaled, gc, [1, 1, 1]);
                    rawDiffers |= ra.Zip(rb).Any(p => Math.Abs(p.First - p.Second) > 1e-3 * ra.Max(Math.Abs));
                }
                // Gradient balancing alone keeps the directions (unit vectors of a linear EMA) but not the magnitude once
                // the scaled task holds the largest norm (c = 100): the log is what makes the step scale-free.
                if (c > 1) Assert.True(rawDiffers, "without the log the update depends on the loss scale: the test can tell");
            }
        }
    }

    /// <summary>Option checks: β outside [0, 1], σ &lt; 0, a wrong shape.</summary>
    [Fact]
    public void Bad_options_and_shapes_are_refused()
    {
        var backend = TestDevices.Reference;
        Assert.Throws<ArgumentOutOfRangeException>(() => new DbMtlCombiner<double>(backend, 2, 4, beta: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DbMtlCombiner<double>(backend, 2, 4, betaSigma: -1));
        using var combiner = new DbMtlCombiner<double>(backend, 2, 4);
        Assert.Throws<ArgumentException>(() => CombinationTestSupport.Run(backend, combiner, [[1, 2, 3], [4, 5, 6]], [1, 1]));
    }

    private static double Norm(double[] x) => Math.Sqrt(CombinationTestSupport.Dot(x, x));

    /// <summary>Through the registry: <c>db-mtl</c> (both halves; β = 0.5, σ = 0.5 reach the combiner), its variant g, and
    /// <c>db-mtl-l+pcgrad</c> (the log losses under another gradient method, as the paper's Table 7) train (loss down), and
    /// a warm step allocates nothing; the step count is on the device (204 steps).</summary>
    [Theory]
    [InlineData("db-mtl", "both")]
    [InlineData("db-mtl", "g")]
    [InlineData("db-mtl-l+pcgrad", "")]
    public void Db_mtl_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method, string variant)
    {
        var options = variant.Length == 0 ? new Dictionary<string, string>()
            : new Dictionary<string, string> { ["variant"] = variant, ["beta"] = "0.5", ["beta-sigma"] = "0.5" };
        MethodTraining.TrainsThroughTheRegistry(method, options, step =>
        {
            if (variant != "g") Assert.IsType<DbMtlLossWeighting<float>>(step.Weighting);
            else Assert.IsNotType<DbMtlLossWeighting<float>>(step.Weighting);
            if (variant.Length == 0) return;
            var combiner = Assert.IsType<DbMtlCombiner<float>>(step.Combiner);
            Assert.Equal((0.5, 0.5), (combiner.Beta, combiner.BetaSigma));
            Assert.Equal(204f, combiner.Backend.ToArray(combiner.Steps)[0]);
        });
    }

    /// <summary><c>mtl train --method db-mtl --method-option beta=0.5 --method-option beta-sigma=0.5</c> trains (exit 0);
    /// beta=1.5 is a usage error naming it.</summary>
    [Fact]
    public void Mtl_train_takes_db_mtl_and_its_options()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"db-mtl-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "db-mtl", "--method-option", "beta=0.5", "--method-option", "beta-sigma=0.5"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "db-mtl", "--method-option", "beta=1.5"]), 2, "option 'beta': '1.5'");
        }
        finally { File.Delete(csv); }
    }
}
