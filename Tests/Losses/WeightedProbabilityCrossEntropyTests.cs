using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Sample weights in a product task's loss, the masked BCE of probabilities (maths §19.7, §19.11): against PyTorch 1.13
/// (Tests/Fixtures/weighted_probability_bce_torch.json, make_weighted_probability_bce_fixture.py:
/// <c>F.binary_cross_entropy(reduction='none')</c>, the weighted mean over labelled rows and its autograd gradient) on both
/// float64 backends and <see cref="ProbabilityCrossEntropyReference"/>; float32 SIMD CPU and ILGPU-CPU against float64; zero
/// weight mass (loss 0, gradient exactly 0, a NaN probability of a weight-0 row ignored); weights ≡ 1 equal to the unweighted
/// kernel; central differences through the tape. Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15); float32 vs float64
/// rtol 1e-5, atol 1e-6; weights ≡ 1, float64, rtol 1e-13.
/// </summary>
public class WeightedProbabilityCrossEntropyTests
{
    private static (double Loss, double Count, double WeightSum, double[] D) Run<T>(Backend<T> k, double[] p, int[] y, double[] rowWeights,
        double upstream, double[]? dStart) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var rw = k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        k.MaskedProbabilityCrossEntropyForward(pv.View, yv.View, loss.View, count.View, rw.View, sum.View);
        k.MaskedProbabilityCrossEntropyBackward(pv.View, yv.View, sum.View, u.View, d.View, accumulate: dStart is not null, rw.View);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), double.CreateTruncating(k.Read(sum.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    public static TheoryData<string> TorchCases => new() { "masked", "near_the_ends", "weights_all_one" };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_weighted_mean_of_bce(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("weighted_probability_bce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string key) => c.GetProperty(key).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var (p, s, grad, loss) = (D("probabilities"), D("row_weights"), D("grad"), c.GetProperty("loss").GetDouble());
        var y = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, p, y, s, 1, null);
            Assert.Equal(y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dp on {backend.GetType().Name}");
        }
        var reference = ProbabilityCrossEntropyReference.Forward(p, y, s);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dp (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { 1, 33, 300, 2000 } : [1, 33, 300, 5000, 60_000];
        foreach (int n in sizes)
        {
            var p = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 1, 0.02, 0.98)));
            var y = Enumerable.Range(0, n).Select(i => (i * 7919 + n) % 10 < 2 ? -1 : (i * 31 + n) % 3 == 0 ? 1 : 0).ToArray();
            var s = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 3, 0, 2)));
            var start = Tolerance.Random(n, n + 4);
            var expected = Run(TestDevices.Reference, p, y, s, 0.8, start);
            var actual = Run(backend, p, y, s, 0.8, start);
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.WeightSum], [actual.WeightSum], 1e-5, 1e-6, $"D n={n}");
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss n={n}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dp (accumulated) n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_weight_mass_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        // Rows 0, 2, 3 labelled with weight 0; row 1 weight 4 but no label; row 0's probability NaN.
        var result = Run(k, [double.NaN, 0.4, 0.5, 0.9], [1, -1, 0, 1], [0, 4, 0, 0], 1, null);
        Assert.Equal(0, result.Loss);
        Assert.Equal(0, result.WeightSum);
        Assert.Equal(3, result.Count);
        Assert.All(result.D, v => Assert.Equal(0, v));
        var mixed = Run(k, [double.NaN, 0.4, 0.5, 0.9], [1, 0, 0, 1], [0, 1, 1, 1], 1, null);
        Assert.True(double.IsFinite(mixed.Loss) && mixed.D.All(double.IsFinite), $"loss {mixed.Loss}");
        Assert.Equal(0, mixed.D[0]);
    }

    /// <summary>s ≡ 1 is §19.7's masked loss (float64, rtol 1e-13).</summary>
    [Fact]
    public void Weights_of_one_are_the_unweighted_loss()
    {
        var k = TestDevices.Reference;
        var p = Tolerance.Random(90, 3, 0.01, 0.99);
        var y = Enumerable.Range(0, 90).Select(i => i % 7 == 0 ? -1 : i % 3 == 0 ? 1 : 0).ToArray();
        using var pv = k.Allocate<double>(p);
        using var yv = k.Allocate<int>(y);
        using var u = k.Allocate<double>([1.0]);
        using var loss = k.Allocate<double>(1);
        using var count = k.Allocate<double>(1);
        using var d = k.Allocate<double>(90);
        k.MaskedProbabilityCrossEntropyForward(pv.View, yv.View, loss.View, count.View);
        k.MaskedProbabilityCrossEntropyBackward(pv.View, yv.View, count.View, u.View, d.View, accumulate: false);
        var ones = Run(k, p, y, Enumerable.Repeat(1.0, 90).ToArray(), 1, null);
        Tolerance.AllClose([k.Read(loss.View)], [ones.Loss], 1e-13, 0, "loss");
        Tolerance.AllClose(k.ToArray(d.View), ones.D, 1e-13, 1e-17, "dp");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_weighted_probability_bce(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Make("p", 6, 1, [0.2, 0.7, 0.45, 0.9, 0.3, 0.6]);
        using var labels = backend.Allocate<int>([1, 0, -1, 1, 0, 1]);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 3, 1.5]);
        var result = GradCheck.Run(backend, tape => tape.MaskedProbabilityCrossEntropy(p, new Labels(labels.View), rowWeights: rows.View), [p]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(6, result.Checked);
    }
}
