using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// The positive-weighted binary cross-entropy with logits (maths §19.10): PyTorch 1.13's <c>BCEWithLogitsLoss(pos_weight)</c>
/// 'mean' loss and gradient (Tests/Fixtures/pos_weight_bce_torch.json, make_pos_weight_bce_fixture.py, float64: binary and
/// multi-label, p from 0 to 5, ignored entries, logits of scale 40, and the engine's row weights from torch's per-entry
/// losses) on both float64 backends and the readable reference; float32 SIMD CPU and ILGPU-CPU against float64; zero total
/// weight; p ≡ 1 equal to the plain masked BCE; central differences through the tape.
/// Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15); float32 vs float64 rtol 1e-5, atol 1e-6.
/// </summary>
public class PositiveWeightedBceTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Loss, double Count, double WeightSum, double[] D) Run<T>(Backend<T> k, double[] z, int[] y, int columns,
        double[]? rowWeights, double[] positiveWeights, double upstream, double[]? dStart) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var rw = rowWeights is null ? null : k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var pw = k.Allocate<T>(Array.ConvertAll(positiveWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var p = k.Allocate<T>(z.Length);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[z.Length], T.CreateTruncating));
        View<T> rv = rw?.View ?? default;
        k.PositiveWeightedBinaryCrossEntropyForward(zv.View, yv.View, rv, pw.View, T.Zero, columns, p.View, loss.View, count.View, sum.View);
        k.PositiveWeightedBinaryCrossEntropyBackward(p.View, yv.View, rv, pw.View, T.Zero, columns, sum.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), double.CreateTruncating(k.Read(sum.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    public static TheoryData<string> TorchCases => new()
    {
        "binary_p3", "binary_p0.25_masked", "binary_p1_large_logits", "multilabel3_masked", "multilabel2_p0",
        "binary_p2_row_weights_masked", "multilabel3_row_weights",
    };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_bce_with_logits_and_pos_weight(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("pos_weight_bce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[]? D(string p) => c.GetProperty(p).ValueKind == JsonValueKind.Null ? null : c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var z = D("logits")!;
        var y = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        int columns = c.GetProperty("columns").GetInt32();
        var (rows, positive, loss, grad) = (D("row_weights"), D("pos_weight")!, c.GetProperty("loss").GetDouble(), D("grad")!);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, z, y, columns, rows, positive, 1, null);
            Assert.Equal(y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dz on {backend.GetType().Name}");
        }
        var reference = PositiveWeightedBceReference.Forward(z, y, columns, rows, positive);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dz (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { (1, 1), (33, 3), (300, 1) } : [(1, 1), (33, 3), (300, 1), (1000, 5), (30_000, 2)];
        foreach (var (n, k) in sizes)
            foreach (bool weighted in new[] { false, true })
            {
                var z = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n * k, n + k, -8, 8)));
                var y = Enumerable.Range(0, n * k).Select(i => (i * 7919 + n) % 10 < 2 ? Missing : (i * 104729 + n) % 2).ToArray();
                var rows = weighted ? Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 3, 0, 2))) : null;
                var positive = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(k, k + 5, 0.25, 4)));
                var start = Tolerance.Random(n * k, n + 4);
                var expected = Run(TestDevices.Reference, z, y, k, rows, positive, 0.8, start);
                var actual = Run(backend, z, y, k, rows, positive, 0.8, start);
                string what = $"n={n} k={k} weighted={weighted}";
                Assert.Equal(expected.Count, actual.Count);
                Tolerance.AllClose([expected.WeightSum], [actual.WeightSum], 1e-5, 1e-6, $"D {what}");
                Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss {what}");
                Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dz (accumulated) {what}");
            }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_total_weight_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        var result = Run(k, [1, -2, 0.5, 3], [1, Missing, 0, 1], 1, [0, 4, 0, 0], [2], 1, null);
        Assert.Equal(0, result.Loss);
        Assert.Equal(0, result.WeightSum);
        Assert.Equal(3, result.Count);
        Assert.All(result.D, v => Assert.Equal(0, v));
        Assert.Equal([1, 2, 3, 4], Run(k, [1, -2, 0.5, 3], [1, Missing, 0, 1], 1, [0, 4, 0, 0], [2], 1, [1, 2, 3, 4]).D);
    }

    /// <summary>p ≡ 1 without row weights is §19.3's masked BCE (rtol 1e-14 in float64).</summary>
    [Fact]
    public void A_positive_weight_of_one_is_the_masked_binary_cross_entropy()
    {
        var z = Tolerance.Random(60, 3, -5, 5);
        var y = Enumerable.Range(0, 60).Select(i => i % 7 == 0 ? Missing : i % 3 % 2).ToArray();
        var weighted = Run(TestDevices.Reference, z, y, 3, null, [1, 1, 1], 1, null);
        var plain = BinaryCrossEntropyReference.Forward(z, y);
        Tolerance.AllClose([plain.Loss], [weighted.Loss], 1e-14, 0, "loss");
        Tolerance.AllClose(plain.Gradient, weighted.D, 1e-14, 1e-17, "dz");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_positive_and_row_weights(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var z = leaves.Random("z", 6, 3, seed: 51);
        using var labels = backend.Allocate<int>([1, 0, Missing, 0, 1, 1, Missing, 0, 0, 1, 1, 0, 0, Missing, 1, 1, 0, 1]);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 1.5, 3]);
        using var positive = backend.Allocate<double>([2, 0.5, 4]);
        foreach (var rv in new[] { default(View<double>), rows.View })
        {
            var result = GradCheck.Run(backend, tape => tape.PositiveWeightedBinaryCrossEntropy(z, new Labels(labels.View), rv, positive.View), [z]);
            Assert.True(result.Passed, result.ToString());
            Assert.Equal(18, result.Checked);
        }
    }
}
