using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Methods;

/// <summary>MGDA's gradient normalisation (<c>normalization</c> ∈ none, l2, loss, loss+; Sener &amp; Koltun 2018,
/// LibMTL <c>mgda_gn</c>): a float64 reference written here (normalise the rows, brute-force min-norm point of their hull),
/// the values of LibMTL's MGDA computed with torch (Tests/Fixtures/make_mgda_libmtl.py), on cpu and ilgpu-cpu, and
/// through the registry and <c>mtl train</c>.</summary>
public class MgdaNormalizationTests
{
    private static readonly double[][] Two = [[1.0, 0.5, -0.2, 0.3], [-0.4, 2.0, 0.6, -1.0]];
    private static readonly double[] TwoLosses = [0.7, 2.5];
    private static readonly double[][] Three = [[1.0, 0.2, -0.3, 0.5, 0.1], [-0.6, 1.5, 0.4, -0.2, 0.3], [0.2, -0.5, 2.0, 0.3, -0.4]];
    private static readonly double[] ThreeLosses = [0.9, 1.8, 0.4];

    /// <summary>d = Σ solᵢ gᵢ/cᵢ printed by Tests/Fixtures/make_mgda_libmtl.py (LibMTL MGDA.backward, rep_grad off: the
    /// solution applied to the normalised gradients).</summary>
    private static readonly Dictionary<string, double[]> LibMtl = new()
    {
        ["two none"] = [0.7431192661, 0.7752293578, -0.0532110092, 0.0614678899],
        ["two l2"] = [0.3405026123, 0.6384423981, 0.0425628265, -0.0851256531],
        ["two loss"] = [0.1948073796, 0.7808557169, 0.1225817305, -0.214938597],
        ["two loss+"] = [0.0060247842, 0.3559453845, 0.0822155687, -0.1393657617],
        ["three none"] = [0.3959019855, 0.4498857774, 0.3123229005, 0.2624786586, 0.0684260921],
        ["three l2"] = [0.213484046, 0.2848036726, 0.27565387, 0.1552453695, 0.0320033147],
        ["three loss"] = [0.2269342879, 0.5343292777, 0.1892717891, 0.1645342031, 0.1044946064],
        ["three loss+"] = [0.1072837271, 0.3559371825, 0.1519184877, 0.0894569659, 0.0655554364],
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in new[] { "cpu", TestDevices.IlgpuCpu })
            foreach (var n in new[] { "none", "l2", "loss", "loss+" })
            {
                data.Add(device, n);
            }
        return data;
    }

    /// <summary>The float64 reference: cᵢ from the raw row and loss, the rows wᵢgᵢ/cᵢ, and the min-norm point of their
    /// hull by a brute-force search of the simplex (no Frank–Wolfe).</summary>
    private static double[] Reference(double[][] g, double[] losses, double[] w, string normalization)
    {
        var rows = g.Select((r, i) =>
        {
            double norm = Math.Sqrt(Dot(r, r));
            double c = normalization switch { "l2" => norm, "loss" => losses[i], "loss+" => losses[i] * norm, _ => 1.0 };
            return r.Select(v => w[i] * v / c).ToArray();
        }).ToArray();
        var gram = GramOf(rows);
        var alpha = BruteForceSimplexMinimum(rows.Length, a => Quadratic(a, gram));
        return Combination(alpha, rows);
    }

    private static double[] RunOn(Backend<float> backend, double[][] g, double[] losses, double[] w, string normalization)
    {
        using var l = backend.Allocate(Array.ConvertAll(losses, x => (float)x));
        using var mgda = new MgdaCombiner<float>(backend, normalization: MgdaCombiner<float>.ParseNormalization(normalization), losses: l.View);
        return Run(backend, mgda, g, w);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_float64_reference(string device, string normalization)
    {
        var backend = TestDevices.Get(device);
        double[] w2 = [1.0, 1.0], w3 = [1.5, 0.5, 1.0];
        Tolerance.AllClose(Reference(Two, TwoLosses, w2, normalization), RunOn(backend, Two, TwoLosses, w2, normalization), 1e-4, 1e-5, $"{device} two");
        Tolerance.AllClose(Reference(Three, ThreeLosses, w3, normalization), RunOn(backend, Three, ThreeLosses, w3, normalization), 1e-4, 1e-5, $"{device} three");
    }

    /// <summary>LibMTL's MGDA (its own approximate solver stops at Σ|Δsol| &lt; 1e-5, hence the tolerance).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_LibMTL_MGDA(string device, string normalization)
    {
        var backend = TestDevices.Get(device);
        Tolerance.AllClose(LibMtl[$"two {normalization}"], RunOn(backend, Two, TwoLosses, [1, 1], normalization), 1e-5, 1e-6, $"{device} two");
        Tolerance.AllClose(LibMtl[$"three {normalization}"], RunOn(backend, Three, ThreeLosses, [1, 1, 1], normalization), 1e-4, 1e-4, $"{device} three");
    }

    /// <summary>Multiplying task 1's loss by 100 (its gradient and loss ×100): l2 and loss give the same result (gᵢ/‖gᵢ‖ and
    /// gᵢ/Lᵢ do not change), none does not.</summary>
    [Fact]
    public void L2_and_loss_are_invariant_to_a_tasks_loss_scale()
    {
        var backend = TestDevices.Reference;
        double[][] scaled = [Three[0], [.. Three[1].Select(v => 100 * v)], Three[2]];
        double[] scaledLosses = [ThreeLosses[0], 100 * ThreeLosses[1], ThreeLosses[2]];
        foreach (var n in new[] { "l2", "loss" })
        {
            using var l = backend.Allocate(ThreeLosses);
            using var ls = backend.Allocate(scaledLosses);
            using var a = new MgdaCombiner<double>(backend, normalization: MgdaCombiner<double>.ParseNormalization(n), losses: l.View);
            using var b = new MgdaCombiner<double>(backend, normalization: MgdaCombiner<double>.ParseNormalization(n), losses: ls.View);
            Tolerance.AllClose(Run(backend, a, Three, [1, 1, 1]), Run(backend, b, scaled, [1, 1, 1]), 1e-9, 1e-12, n);
        }
        using var none = new MgdaCombiner<double>(backend);
        using var none2 = new MgdaCombiner<double>(backend);
        Assert.NotEqual(Run(backend, none, Three, [1, 1, 1])[0], Run(backend, none2, scaled, [1, 1, 1])[0], 6);
    }

    /// <summary>A zero gradient under l2 is left unnormalised (no NaN): the min-norm point is then 0.</summary>
    [Fact]
    public void A_zero_gradient_gives_zero_without_NaN()
    {
        var backend = TestDevices.Reference;
        using var l = backend.Allocate(new double[] { 1, 1 });
        using var mgda = new MgdaCombiner<double>(backend, normalization: MgdaNormalization.L2, losses: l.View);
        Tolerance.AllClose([0, 0, 0], Run(backend, mgda, [[1, 2, 3], [0, 0, 0]], [1, 1]), 0, 1e-12);
    }

    /// <summary>Through the registry with each normalisation: trains, a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("none")]
    [InlineData("l2")]
    [InlineData("loss")]
    [InlineData("loss+")]
    public void Trains_through_the_registry(string normalization) =>
        MethodTraining.TrainsThroughTheRegistry("mgda", new() { ["normalization"] = normalization },
            step => Assert.IsType<MgdaCombiner<float>>(step.Combiner));

    /// <summary><c>mtl train --method mgda --method-option normalization=loss+</c> trains; an unknown value is a usage error.</summary>
    [Fact]
    public void Mtl_train_takes_the_normalization()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"mgda-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "mgda", "--method-option", "normalization=loss+"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "mgda", "--method-option", "normalization=l1"]), 2, "normalization");
        }
        finally { File.Delete(csv); }
    }
}
