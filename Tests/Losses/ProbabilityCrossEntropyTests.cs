using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>, logs clamped at −100, label −1 = no label):
/// PyTorch's <c>F.binary_cross_entropy</c> and its gradient (Tests/Fixtures/probability_bce_torch.json, made by
/// make_probability_bce_fixture.py with torch 1.13 in float64, p = 0 and p = 1 against both labels included); float32 on
/// every device (SIMD CPU, ILGPU CPU accelerator) against float64 on the same float32-rounded inputs; the all-unlabelled
/// batch; and float64 central-difference checks of L(σ(a) ⊙ σ(b)) (ESMM's CTCVR loss) through the tape.
/// Tolerances: float64 vs torch rtol 1e-12; float32 vs float64 rtol 1e-5, atol 1e-6 (one reduction of at most 70,000
/// terms; the gradient is one division per element).
/// </summary>
public class ProbabilityCrossEntropyTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Loss, double Count, double[] D) Run<T>(Backend<T> k, double[] p, int[] y, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        k.MaskedProbabilityCrossEntropyForward(pv.View, yv.View, loss.View, count.View);
        k.MaskedProbabilityCrossEntropyBackward(pv.View, yv.View, count.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)),
            Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    public static TheoryData<string> TorchCases => new() { "small", "edges", "random41" };

    private static (double[] P, int[] Y, double Loss, double[] Grad) TorchCase(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("probability_bce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string p) => c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        return (D("probabilities"), c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray(), c.GetProperty("loss").GetDouble(), D("grad"));
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_bce_loss(string name)
    {
        var (p, y, loss, grad) = TorchCase(name);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, p, y, 1, null);
            Assert.Equal(y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dp on {backend.GetType().Name}");
        }
        var reference = ProbabilityCrossEntropyReference.Forward(p, y);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dp (readable reference)");
    }

    /// <summary>p = (0, 0, 1, 1, 10⁻³⁰), y = (0, 1, 0, 1, 1): ℓ = 0, 100, 100, 0, 30·ln 10 (each log clamped at −100 where it
    /// is −∞), L = (200 + 30 ln 10)/5; dp = (0, −1, 1, 0, −1)/(5·10⁻¹²) (p(1 − p) floored at 10⁻¹²), finite on every device.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_and_one_give_the_clamped_loss_and_a_finite_gradient(string device)
    {
        var (loss, count, d) = Run(TestDevices.Get(device), [0, 0, 1, 1, 1e-30, 0.5], [0, 1, 0, 1, 1, Missing], 1, null);
        Assert.Equal(5, count);
        Tolerance.AllClose([(200 + 30 * Math.Log(10)) / 5], [loss], 1e-6, 0, "loss");
        double g = 1 / (5 * ProbabilityCrossEntropyReference.VarianceFloor);
        Tolerance.AllClose([0, -g, g, 0, -g, 0], d, 1e-6, 0, "dp");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int n in TestDevices.IsEmulated(device) ? new[] { 1, 33, 300 } : [1, 33, 300, 1000, 70_000])
        {
            // Products of two sigmoids, rounded to float32 first (both sides see the same inputs).
            var p = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 2).Zip(Tolerance.Random(n, n + 7),
                (a, b) => 1 / (1 + Math.Exp(-4 * a)) / (1 + Math.Exp(-4 * b))).ToArray()));
            var y = Enumerable.Range(0, n).Select(i => (i * 7919 + n) % 10 < 3 ? Missing : (i * 104729 + n) % 2).ToArray();
            var start = Tolerance.Random(n, n + 4);
            var expected = Run(TestDevices.Reference, p, y, 0.8, start);
            var actual = Run(backend, p, y, 0.8, start);
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss n={n}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dp (accumulated) n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_batch_without_labels_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        var none = Run(k, [0.5, 0, 1, 0.2], [Missing, Missing, Missing, Missing], 1, null);
        Assert.Equal(0, none.Loss);
        Assert.Equal(0, none.Count);
        Assert.All(none.D, v => Assert.Equal(0, v));
        Assert.Equal([1, 2, 3, 4], Run(k, [0.5, 0, 1, 0.2], [Missing, Missing, Missing, Missing], 1, [1, 2, 3, 4]).D);
    }

    [Fact]
    public void A_label_above_one_is_rejected_naming_the_element()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Run(TestDevices.Reference, [0.5, 0.5, 0.5], [1, 0, 2], 1, null));
        Assert.Contains("labels[2] = 2", error.Message);
    }

    /// <summary>ESMM's CTCVR loss: L = BCE(σ(a) ⊙ σ(b), y) with labels missing on some rows, w.r.t. both logits.</summary>
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_of_the_loss_of_a_product_of_sigmoids(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var a = leaves.Random("a", 7, 1, seed: 31);
        var b = leaves.Random("b", 7, 1, seed: 32);
        using var labels = backend.Allocate<int>([1, 0, Missing, 0, 1, Missing, 0]);
        var result = GradCheck.Run(backend, tape => tape.MaskedProbabilityCrossEntropy(tape.Product(tape.Sigmoid(a), tape.Sigmoid(b)), new Labels(labels.View)), [a, b]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(14, result.Checked);
    }
}
