using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// The weighted, label-smoothed, masked softmax cross-entropy (maths §19.9): PyTorch 1.13's
/// <c>CrossEntropyLoss(weight, label_smoothing, ignore_index=-1)</c> 'mean' loss and its gradient
/// (Tests/Fixtures/weighted_ce_torch.json, make_weighted_ce_fixture.py, float64: ε ∈ {0, 0.1, 0.15, 0.2, 0.25, 0.3, 1},
/// K ∈ {2, …, 7}, with and without ignored rows, class weights, and the engine's row weights built from torch's per-row
/// losses); float32 on SIMD CPU and the ILGPU CPU accelerator against float64 on the same float32-rounded inputs; a batch
/// of zero total weight; ε = 0 without weights equal to the masked kernel; float64 central-difference checks through the
/// tape. Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15); float32 vs float64 rtol 1e-5, atol 1e-6 (a row softmax and
/// one reduction over at most 20,000 rows).
/// </summary>
public class WeightedCrossEntropyTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Loss, double Count, double WeightSum, double[] D) Run<T>(Backend<T> k, double[] z, int[] y, int classes,
        double[]? rowWeights, double[]? classWeights, double smoothing, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var rw = rowWeights is null ? null : k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var cw = classWeights is null ? null : k.Allocate<T>(Array.ConvertAll(classWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var p = k.Allocate<T>(z.Length);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[z.Length], T.CreateTruncating));
        View<T> rv = rw?.View ?? default, cv = cw?.View ?? default;
        T eps = T.CreateTruncating(smoothing);
        k.WeightedSoftmaxCrossEntropyForward(zv.View, yv.View, rv, cv, eps, y.Length, classes, p.View, loss.View, count.View, sum.View);
        k.WeightedSoftmaxCrossEntropyBackward(p.View, yv.View, rv, cv, eps, y.Length, classes, sum.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), double.CreateTruncating(k.Read(sum.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    public static TheoryData<string> TorchCases => new()
    {
        "k2_eps0", "k3_eps0.1_masked", "k5_eps0.25", "k7_eps1_masked", "k4_eps0.3_large_logits", "k4_eps0_class_weights_masked",
        "k3_eps0.2_class_weights", "k4_eps0.15_row_weights_masked", "k5_eps0.1_row_and_class_weights_masked",
    };

    private sealed record TorchCase(double[] Z, int[] Y, int Classes, double Smoothing, double[]? ClassWeights, double[]? RowWeights, double Loss, double[] Grad);

    private static TorchCase Case(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("weighted_ce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[]? D(string p) => c.GetProperty(p).ValueKind == JsonValueKind.Null ? null : c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        return new TorchCase(D("logits")!, c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray(), c.GetProperty("classes").GetInt32(),
            c.GetProperty("smoothing").GetDouble(), D("class_weights"), D("row_weights"), c.GetProperty("loss").GetDouble(), D("grad")!);
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_cross_entropy(string name)
    {
        var t = Case(name);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, t.Z, t.Y, t.Classes, t.RowWeights, t.ClassWeights, t.Smoothing, 1, null);
            Assert.Equal(t.Y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([t.Loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(t.Grad, actual.D, 1e-12, 1e-15, $"{name} dz on {backend.GetType().Name}");
        }
        var reference = WeightedCrossEntropyReference.Forward(t.Z, t.Y, t.Classes, t.RowWeights, t.ClassWeights, t.Smoothing);
        Tolerance.AllClose([t.Loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(t.Grad, reference.Gradient, 1e-12, 1e-15, $"{name} dz (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { (1, 2), (33, 3), (300, 7) } : [(1, 2), (33, 3), (300, 7), (1000, 10), (20_000, 4)];
        foreach (var (n, k) in sizes)
            foreach (bool weighted in new[] { false, true })
            {
                var z = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + k, -6, 6)));
                var y = Enumerable.Range(0, n).Select(i => (i * 7919 + n) % 10 < 2 ? Missing : (i * 104729 + n) % k).ToArray();
                var rows = weighted ? Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 3, 0, 2))) : null;
                var classes = weighted ? Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(k, k + 5, 0.25, 3))) : null;
                var start = Tolerance.Random(n * k, n + 4);
                double eps = weighted ? 0.2 : 0.1;
                var expected = Run(TestDevices.Reference, z, y, k, rows, classes, eps, 0.8, start);
                var actual = Run(backend, z, y, k, rows, classes, eps, 0.8, start);
                string what = $"n={n} K={k} weighted={weighted}";
                Assert.Equal(expected.Count, actual.Count);
                Tolerance.AllClose([expected.WeightSum], [actual.WeightSum], 1e-5, 1e-6, $"D {what}");
                Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss {what}");
                Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dz (accumulated) {what}");
            }
    }

    /// <summary>Zero total weight (every labelled row weighs 0, or its class does): L = 0, D = 0 and dz exactly 0 (never
    /// NaN), an accumulated gradient left as it was; n still counts the labelled rows.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_total_weight_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        double[] z = [1, -2, 0.5, 3, 0, -1, 2, 2, 2];
        int[] y = [0, Missing, 2];
        foreach (var (rows, classes) in new (double[]?, double[]?)[] { ([0, 5, 0], null), (null, [0, 1, 0]), ([0, 1, 1], [1, 1, 0]) })
        {
            var result = Run(k, z, y, 3, rows, classes, 0.3, 1, null);
            Assert.Equal(0, result.Loss);
            Assert.Equal(0, result.WeightSum);
            Assert.Equal(2, result.Count);
            Assert.All(result.D, v => Assert.Equal(0, v));
            double[] start = [1, 2, 3, 4, 5, 6, 7, 8, 9];
            Assert.Equal(start, Run(k, z, y, 3, rows, classes, 0.3, 1, start).D);
        }
    }

    /// <summary>ε = 0 with no weights is the masked cross-entropy of §19.1 (rtol 1e-14 in float64).</summary>
    [Fact]
    public void Without_smoothing_or_weights_it_is_the_masked_cross_entropy()
    {
        var k = TestDevices.Reference;
        var z = Tolerance.Random(40 * 5, 9, -4, 4);
        var y = Enumerable.Range(0, 40).Select(i => i % 6 == 0 ? Missing : i % 5).ToArray();
        var weighted = Run(k, z, y, 5, null, null, 0, 0.7, null);
        using var zv = k.Allocate<double>(z);
        using var yv = k.Allocate<int>(y);
        using var p = k.Allocate<double>(z.Length);
        using var loss = k.Allocate<double>(1);
        using var count = k.Allocate<double>(1);
        using var u = k.Allocate<double>([0.7]);
        using var d = k.Allocate<double>(z.Length);
        k.MaskedSoftmaxCrossEntropyForward(zv.View, yv.View, 40, 5, p.View, loss.View, count.View);
        k.MaskedSoftmaxCrossEntropyBackward(p.View, yv.View, 40, 5, count.View, u.View, d.View, accumulate: false);
        Tolerance.AllClose([k.Read(loss.View)], [weighted.Loss], 1e-14, 0, "loss");
        Assert.Equal(k.Read(count.View), weighted.WeightSum);
        Tolerance.AllClose(k.ToArray(d.View), weighted.D, 1e-14, 1e-17, "dz");
    }

    [Fact]
    public void A_smoothing_outside_the_unit_interval_is_rejected()
    {
        foreach (double eps in new[] { -0.1, 1.5, double.NaN })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => Run(TestDevices.Reference, [0, 1], [1], 2, null, null, eps, 1, null));
            Assert.Contains("[0, 1]", error.Message);
        }
    }

    /// <summary>Smoothing, class weights, row weights (one of them 0) and missing labels together, w.r.t. the logits.</summary>
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_smoothing_and_weights(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var z = leaves.Random("z", 7, 4, seed: 41);
        using var labels = backend.Allocate<int>([1, 0, Missing, 3, 2, Missing, 0]);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 1.5, 1, 3]);
        using var classes = backend.Allocate<double>([0.5, 2, 1, 1.25]);
        foreach (var (rv, cv) in new[] { (default(View<double>), default(View<double>)), (rows.View, default), (rows.View, classes.View) })
        {
            var result = GradCheck.Run(backend, tape => tape.WeightedSoftmaxCrossEntropy(z, new Labels(labels.View), rv, cv, 0.15), [z]);
            Assert.True(result.Passed, result.ToString());
            Assert.Equal(28, result.Checked);
        }
    }
}
