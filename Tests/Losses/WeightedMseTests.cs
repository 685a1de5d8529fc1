using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Sample weights in the losses (maths §19.11). The row-weighted masked MSE against PyTorch 1.13
/// (Tests/Fixtures/weighted_mse_torch.json, make_weighted_mse_fixture.py: <c>F.mse_loss(reduction='none')</c>, the weighted
/// mean over labelled elements and its autograd gradient) on both float64 backends and the readable reference; float32 SIMD
/// CPU and ILGPU-CPU against float64; zero weight mass (loss 0, gradient exactly 0, a non-finite prediction of a weight-0 row
/// ignored); weights ≡ 1 equal to the unweighted kernel; a weight of 2 on a row equal to that row duplicated, for MSE and
/// for the row weights of the cross-entropy and positive-weighted BCE kernels; central differences through the tape.
/// Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15); float32 vs float64 rtol 1e-5, atol 1e-6; float64 identities rtol 1e-13.
/// </summary>
public class WeightedMseTests
{
    private static (double Loss, double Count, double WeightSum, double[] D) Run<T>(Backend<T> k, double[] p, double[] t, double[] rowWeights,
        double upstream, double[]? dStart) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var tv = k.Allocate<T>(Array.ConvertAll(t, T.CreateTruncating));
        using var rw = k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        k.MaskedMseForward(pv.View, tv.View, loss.View, count.View, rw.View, sum.View);
        k.MaskedMseBackward(pv.View, tv.View, sum.View, u.View, d.View, accumulate: dStart is not null, rw.View);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), double.CreateTruncating(k.Read(sum.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    private static (double Loss, double[] D) Unweighted(Backend<double> k, double[] p, double[] t)
    {
        using var pv = k.Allocate<double>(p);
        using var tv = k.Allocate<double>(t);
        using var u = k.Allocate<double>([1.0]);
        using var loss = k.Allocate<double>(1);
        using var count = k.Allocate<double>(1);
        using var d = k.Allocate<double>(p.Length);
        k.MaskedMseForward(pv.View, tv.View, loss.View, count.View);
        k.MaskedMseBackward(pv.View, tv.View, count.View, u.View, d.View, accumulate: false);
        return (k.Read(loss.View), k.ToArray(d.View));
    }

    public static TheoryData<string> TorchCases => new() { "one_column", "one_column_masked", "three_columns_masked", "weights_all_one" };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_weighted_mean_of_mse(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("weighted_mse_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string key) => c.GetProperty(key).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble()).ToArray();
        var (p, t, s, grad, loss) = (D("prediction"), D("target"), D("row_weights"), D("grad"), c.GetProperty("loss").GetDouble());
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, p, t, s, 1, null);
            Assert.Equal(t.Count(v => !double.IsNaN(v)), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dp on {backend.GetType().Name}");
        }
        var reference = WeightedMseReference.Forward(p, t, s);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dp (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { (1, 1), (33, 3), (300, 1), (2000, 1) } : [(1, 1), (33, 3), (300, 1), (1000, 5), (60_000, 1)];
        foreach (var (n, k) in sizes)
        {
            var p = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + k, -3, 3)));
            var t = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + 2 * k, -3, 3)));
            for (int i = 0; i < t.Length; i++) if ((i * 7919 + n) % 10 < 2) t[i] = double.NaN;
            var s = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 3, 0, 2)));
            var start = Tolerance.Random(n * k, n + 4);
            var expected = Run(TestDevices.Reference, p, t, s, 0.8, start);
            var actual = Run(backend, p, t, s, 0.8, start);
            string what = $"n={n} k={k}";
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.WeightSum], [actual.WeightSum], 1e-5, 1e-6, $"D {what}");
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss {what}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dp (accumulated) {what}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_weight_mass_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        // Rows 0, 2, 3 are labelled with weight 0; row 1 has weight 4 but no label; row 0's prediction is infinite.
        var result = Run(k, [double.PositiveInfinity, -2, 0.5, 3], [1, double.NaN, 0, 1], [0, 4, 0, 0], 1, null);
        Assert.Equal(0, result.Loss);
        Assert.Equal(0, result.WeightSum);
        Assert.Equal(3, result.Count);
        Assert.All(result.D, v => Assert.Equal(0, v));
        Assert.Equal([1, 2, 3, 4], Run(k, [1, -2, 0.5, 3], [1, double.NaN, 0, 1], [0, 4, 0, 0], 1, [1, 2, 3, 4]).D);
        // A weight-0 row with an infinite prediction adds nothing to a batch that has weight elsewhere.
        var mixed = Run(k, [double.PositiveInfinity, -2, 0.5, 3], [1, 0, 0, 1], [0, 1, 1, 1], 1, null);
        Assert.True(double.IsFinite(mixed.Loss) && mixed.D.All(double.IsFinite), $"loss {mixed.Loss}");
        Assert.Equal(0, mixed.D[0]);
    }

    /// <summary>s ≡ 1 is §19.1's masked MSE (float64, rtol 1e-13: the weighted path sums per row, the unweighted per block).</summary>
    [Fact]
    public void Weights_of_one_are_the_unweighted_masked_mse()
    {
        var p = Tolerance.Random(90, 3, -4, 4);
        var t = Tolerance.Random(90, 4, -4, 4);
        for (int i = 0; i < t.Length; i += 7) t[i] = double.NaN;
        var plain = Unweighted(TestDevices.Reference, p, t);
        var ones = Run(TestDevices.Reference, p, t, Enumerable.Repeat(1.0, 30).ToArray(), 1, null);
        Tolerance.AllClose([plain.Loss], [ones.Loss], 1e-13, 0, "loss");
        Tolerance.AllClose(plain.D, ones.D, 1e-13, 1e-17, "dp");
    }

    /// <summary>A weight of 2 on row r equals row r written twice with weight 1: the same loss, and the duplicated rows'
    /// gradients summed give the weighted row's gradient (float64, rtol 1e-13) — for MSE, cross-entropy and BCE.</summary>
    [Fact]
    public void Weight_two_equals_the_row_duplicated()
    {
        var k = TestDevices.Reference;
        // MSE over [4 × 2]; row 1 weighted 2, one target of row 3 missing.
        double[] p = [0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2], t = [0, 1, 1.5, -0.5, double.NaN, 2, 2.5, -1];
        var weighted = Run(k, p, t, [1, 2, 1, 1], 1, null);
        double[] pd = [.. p[..4], p[2], p[3], .. p[4..]], td = [.. t[..4], t[2], t[3], .. t[4..]];
        var duplicated = Run(k, pd, td, [1, 1, 1, 1, 1], 1, null);
        Tolerance.AllClose([duplicated.Loss], [weighted.Loss], 1e-13, 0, "MSE loss");
        var summed = new[] { duplicated.D[0], duplicated.D[1], duplicated.D[2] + duplicated.D[4], duplicated.D[3] + duplicated.D[5], duplicated.D[6], duplicated.D[7], duplicated.D[8], duplicated.D[9] };
        Tolerance.AllClose(summed, weighted.D, 1e-13, 1e-17, "MSE dp");

        // Cross-entropy (3 classes, 3 rows, row 2 weighted 2) through the readable reference of §19.9.
        double[] z = [1, -0.5, 2, 0.3, 0.1, -1, -2, 0.5, 1.5];
        var ce = WeightedCrossEntropyReference.Forward(z, [2, 0, 1], 3, [1, 1, 2], [], 0.1);
        var ceDup = WeightedCrossEntropyReference.Forward([.. z, .. z[6..]], [2, 0, 1, 1], 3, [1, 1, 1, 1], [], 0.1);
        Tolerance.AllClose([ceDup.Loss], [ce.Loss], 1e-13, 0, "CE loss");
        Tolerance.AllClose([.. ceDup.Gradient[..6], .. ceDup.Gradient[6..9].Zip(ceDup.Gradient[9..], (a, b) => a + b)], ce.Gradient, 1e-13, 1e-17, "CE dz");

        // Positive-weighted BCE (one logit per row, row 0 weighted 2).
        double[] b = [0.7, -1.2, 2.5];
        var bce = PositiveWeightedBceReference.Forward(b, [1, 0, 1], 1, [2, 1, 1], [1.5]);
        var bceDup = PositiveWeightedBceReference.Forward([b[0], .. b], [1, 1, 0, 1], 1, [1, 1, 1, 1], [1.5]);
        Tolerance.AllClose([bceDup.Loss], [bce.Loss], 1e-13, 0, "BCE loss");
        Tolerance.AllClose([bceDup.Gradient[0] + bceDup.Gradient[1], bceDup.Gradient[2], bceDup.Gradient[3]], bce.Gradient, 1e-13, 1e-17, "BCE dz");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_weighted_masked_mse(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("p", 5, 3, seed: 61);
        var target = Tolerance.Random(15, 62, -1, 1);
        target[4] = target[9] = double.NaN;
        var t = leaves.Make("t", 5, 3, target, requiresGrad: false);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 3]);
        var result = GradCheck.Run(backend, tape => tape.MaskedMse(p, t, rowWeights: rows.View), [p]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(15, result.Checked);
    }
}
