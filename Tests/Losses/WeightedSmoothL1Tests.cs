using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Sample weights in the L1 and Huber losses (maths §19.5, §19.11): the row-weighted masked smooth-L1 kernels against
/// PyTorch 1.13 (Tests/Fixtures/weighted_smooth_l1_torch.json, make_weighted_smooth_l1_fixture.py: <c>F.l1_loss</c> and
/// <c>F.huber_loss(delta)</c> with reduction='none', the weighted mean over labelled elements and its autograd gradient) on
/// both float64 backends and <see cref="WeightedSmoothL1Reference"/>; float32 SIMD CPU and ILGPU-CPU against float64; zero
/// weight mass (loss 0, gradient exactly 0, a non-finite prediction of a weight-0 row ignored); weights ≡ 1 equal to the
/// unweighted kernels; central differences through the tape (Huber). Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15);
/// float32 vs float64 rtol 1e-5, atol 1e-6; weights ≡ 1, float64, rtol 1e-13.
/// </summary>
public class WeightedSmoothL1Tests
{
    private static (double Loss, double Count, double WeightSum, double[] D) Run<T>(Backend<T> k, double[] p, double[] t, double[] rowWeights,
        double beta, double scale, double upstream, double[]? dStart) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var tv = k.Allocate<T>(Array.ConvertAll(t, T.CreateTruncating));
        using var rw = k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        T b = T.CreateTruncating(beta), c = T.CreateTruncating(scale);
        k.MaskedSmoothL1Forward(pv.View, tv.View, b, c, loss.View, count.View, rw.View, sum.View);
        k.MaskedSmoothL1Backward(pv.View, tv.View, b, c, sum.View, u.View, d.View, accumulate: dStart is not null, rw.View);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), double.CreateTruncating(k.Read(sum.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    private static (double Loss, double[] D) Unweighted(Backend<double> k, double[] p, double[] t, double beta, double scale)
    {
        using var pv = k.Allocate<double>(p);
        using var tv = k.Allocate<double>(t);
        using var u = k.Allocate<double>([1.0]);
        using var loss = k.Allocate<double>(1);
        using var count = k.Allocate<double>(1);
        using var d = k.Allocate<double>(p.Length);
        k.MaskedSmoothL1Forward(pv.View, tv.View, beta, scale, loss.View, count.View);
        k.MaskedSmoothL1Backward(pv.View, tv.View, beta, scale, count.View, u.View, d.View, accumulate: false);
        return (k.Read(loss.View), k.ToArray(d.View));
    }

    public static TheoryData<string> TorchCases => new() { "l1_one_column", "l1_three_columns", "huber_one_column", "huber_two_columns_delta_0.5" };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_weighted_mean_of_l1_and_huber(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("weighted_smooth_l1_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string key) => c.GetProperty(key).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble()).ToArray();
        var (p, t, s, grad, loss) = (D("prediction"), D("target"), D("row_weights"), D("grad"), c.GetProperty("loss").GetDouble());
        double delta = c.GetProperty("delta").GetDouble();
        bool l1 = c.GetProperty("loss_name").GetString() == "l1";
        double beta = l1 ? 0 : delta, scale = l1 ? 1 : delta;           // L1: β = 0, scale 1; Huber(δ): β = δ, scale δ (§19.5)
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, p, t, s, beta, scale, 1, null);
            Assert.Equal(t.Count(v => !double.IsNaN(v)), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dp on {backend.GetType().Name}");
        }
        var reference = WeightedSmoothL1Reference.Forward(p, t, s, beta, scale);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dp (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { (1, 1), (33, 3), (300, 1), (2000, 1) } : [(1, 1), (33, 3), (300, 1), (1000, 5), (60_000, 1)];
        foreach (var (beta, scale) in new[] { (0.0, 1.0), (0.7, 0.7) })
            foreach (var (n, k) in sizes)
            {
                var p = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + k, -3, 3)));
                var t = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + 2 * k, -3, 3)));
                for (int i = 0; i < t.Length; i++) if ((i * 7919 + n) % 10 < 2) t[i] = double.NaN;
                var s = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 3, 0, 2)));
                var start = Tolerance.Random(n * k, n + 4);
                var expected = Run(TestDevices.Reference, p, t, s, beta, scale, 0.8, start);
                var actual = Run(backend, p, t, s, (float)beta, (float)scale, 0.8, start);
                string what = $"β={beta} n={n} k={k}";
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
        foreach (var (beta, scale) in new[] { (0.0, 1.0), (1.0, 1.0) })
        {
            // Rows 0, 2, 3 labelled with weight 0; row 1 weight 4 but no label; row 0's prediction infinite.
            var result = Run(k, [double.PositiveInfinity, -2, 0.5, 3], [1, double.NaN, 0, 1], [0, 4, 0, 0], beta, scale, 1, null);
            Assert.Equal(0, result.Loss);
            Assert.Equal(0, result.WeightSum);
            Assert.Equal(3, result.Count);
            Assert.All(result.D, v => Assert.Equal(0, v));
            Assert.Equal([1, 2, 3, 4], Run(k, [1, -2, 0.5, 3], [1, double.NaN, 0, 1], [0, 4, 0, 0], beta, scale, 1, [1, 2, 3, 4]).D);
            var mixed = Run(k, [double.PositiveInfinity, -2, 0.5, 3], [1, 0, 0, 1], [0, 1, 1, 1], beta, scale, 1, null);
            Assert.True(double.IsFinite(mixed.Loss) && mixed.D.All(double.IsFinite), $"loss {mixed.Loss}");
            Assert.Equal(0, mixed.D[0]);
        }
    }

    /// <summary>s ≡ 1 is §19.5's masked loss (float64, rtol 1e-13: the weighted path sums per row, the unweighted per block).</summary>
    [Fact]
    public void Weights_of_one_are_the_unweighted_loss()
    {
        var p = Tolerance.Random(90, 3, -4, 4);
        var t = Tolerance.Random(90, 4, -4, 4);
        for (int i = 0; i < t.Length; i += 7) t[i] = double.NaN;
        foreach (var (beta, scale) in new[] { (0.0, 1.0), (1.5, 1.5) })
        {
            var plain = Unweighted(TestDevices.Reference, p, t, beta, scale);
            var ones = Run(TestDevices.Reference, p, t, Enumerable.Repeat(1.0, 30).ToArray(), beta, scale, 1, null);
            Tolerance.AllClose([plain.Loss], [ones.Loss], 1e-13, 0, $"loss β={beta}");
            Tolerance.AllClose(plain.D, ones.D, 1e-13, 1e-17, $"dp β={beta}");
        }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_weighted_masked_huber(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("p", 5, 3, seed: 71);
        var target = Tolerance.Random(15, 72, -1, 1);
        target[4] = target[9] = double.NaN;
        var t = leaves.Make("t", 5, 3, target, requiresGrad: false);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 3]);
        var result = GradCheck.Run(backend, tape => tape.MaskedHuber(p, t, 0.6, rowWeights: rows.View), [p]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(15, result.Checked);
    }
}
