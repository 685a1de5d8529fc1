using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Masked binary cross-entropy with logits (label −1 = no label): PyTorch's <c>F.binary_cross_entropy_with_logits</c>
/// (Tests/Fixtures/bce_torch.json, made by make_bce_fixture.py with torch 1.13 in float64), the textbook form
/// −y log σ − (1 − y) log(1 − σ) written here, float32 parity against float64 on every device, the all-unlabelled batch
/// (loss 0, count 0, gradient exactly 0), logits of ±100 (no overflow), and float64 central-difference checks through the tape.
/// Tolerances: float64 vs torch rtol 1e-12; float32 vs float64 rtol 1e-5, atol 1e-6 (one reduction of at most 70,000
/// terms, each term's float32 rounding ~6e-8 relative).
/// </summary>
public class BinaryCrossEntropyTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Loss, double Count, double[] Sigmoid, double[] D) Run<T>(Backend<T> k, double[] z, int[] y, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var p = k.Allocate<T>(z.Length);
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[z.Length], T.CreateTruncating));
        k.MaskedBinaryCrossEntropyForward(zv.View, yv.View, p.View, loss.View, count.View);
        k.MaskedBinaryCrossEntropyBackward(p.View, yv.View, count.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)),
            Array.ConvertAll(k.ToArray(p.View), double.CreateTruncating), Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    /// <summary>The textbook form, for moderate logits only (it overflows beyond |z| ≈ 700 and loses digits far sooner).</summary>
    private static (double Loss, double[] D) Textbook(double[] z, int[] y)
    {
        int n = y.Count(v => v >= 0);
        double loss = 0;
        var d = new double[z.Length];
        for (int i = 0; i < z.Length; i++)
        {
            if (y[i] < 0) continue;
            double s = 1 / (1 + Math.Exp(-z[i]));
            loss += -(y[i] * Math.Log(s) + (1 - y[i]) * Math.Log(1 - s));
            d[i] = (s - y[i]) / n;
        }
        return (loss / Math.Max(n, 1), d);
    }

    private static int[] RandomLabels(int n, int seed, double missingFraction)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() < missingFraction ? Missing : rng.Next(2)).ToArray();
    }

    public static TheoryData<string> TorchCases => new() { "small", "extreme", "random37" };

    private static (double[] Z, int[] Y, double Loss, double[] Grad, double[] Sigmoid) TorchCase(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("bce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string p) => c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        return (D("logits"), c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray(), c.GetProperty("loss").GetDouble(), D("grad"), D("sigmoid"));
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_binary_cross_entropy_with_logits(string name)
    {
        var (z, y, loss, grad, sigmoid) = TorchCase(name);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, z, y, 1, null);
            Assert.Equal(y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dz on {backend.GetType().Name}");
            Tolerance.AllClose(sigmoid, actual.Sigmoid, 1e-12, 1e-300, $"{name} σ on {backend.GetType().Name}");
        }
        var reference = BinaryCrossEntropyReference.Forward(z, y);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dz (readable reference)");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_pytorch_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (var name in new[] { "small", "extreme", "random37" })
        {
            var (z, y, loss, grad, sigmoid) = TorchCase(name);
            var actual = Run(backend, z, y, 1, null);
            Tolerance.AllClose([loss], [actual.Loss], 1e-5, 1e-6, $"{name} loss");
            Tolerance.AllClose(grad, actual.D, 1e-5, 1e-6, $"{name} dz");
            Tolerance.AllClose(sigmoid, actual.Sigmoid, 1e-5, 1e-7, $"{name} σ");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(300)]     // more than one block of 256
    [InlineData(70_000)]  // above the CPU's parallel threshold: chunked reduction
    public void Float64_matches_the_textbook_form(int n)
    {
        var z = Array.ConvertAll(Tolerance.Random(n, n), v => 4 * v);
        var y = RandomLabels(n, n + 1, 0.3);
        var expected = Textbook(z, y);
        var actual = Run(TestDevices.Reference, z, y, 1, null);
        Assert.Equal(y.Count(v => v >= 0), actual.Count);
        Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-11, 0, "loss");
        Tolerance.AllClose(expected.D, actual.D, 1e-11, 1e-16, "dz");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int n in TestDevices.IsEmulated(device) ? new[] { 1, 33, 300 } : [1, 33, 300, 1000, 70_000])
        {
            var z = Array.ConvertAll(Tolerance.Random(n, n + 2), v => 20 * v); // large logits: the stable form matters
            var y = RandomLabels(n, n + 3, 0.3);
            var start = Tolerance.Random(n, n + 4);
            var expected = Run(TestDevices.Reference, z, y, 0.8, start);
            var actual = Run(backend, z, y, 0.8, start);
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss n={n}");
            Tolerance.AllClose(expected.Sigmoid, actual.Sigmoid, 1e-5, 1e-7, $"σ n={n}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dz (accumulated) n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Hand_derived_example_and_huge_logits(string device)
    {
        var k = TestDevices.Get(device);
        // z = (0, 100, −100, 3), y = (1, 1, 1, −1): ℓ = ln 2, 0 (e^{−100} ≈ 4e−44), 100; n = 3, L = (ln 2 + 100)/3.
        // dz = (σ − y)/3 = (−1/6, 0, −1/3, 0) up to e^{−100}.
        var (loss, count, sigmoid, d) = Run(k, [0, 100, -100, 3], [1, 1, 1, Missing], 1, null);
        Assert.Equal(3, count);
        Tolerance.AllClose([(Math.Log(2) + 100) / 3], [loss], 1e-6, 0, "loss");
        Tolerance.AllClose([0.5, 1, 0, 1 / (1 + Math.Exp(-3))], sigmoid, 1e-6, 1e-30, "σ");
        Tolerance.AllClose([-1.0 / 6, 0, -1.0 / 3, 0], d, 0, 1e-7, "dz");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_batch_without_labels_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        var none = Run(k, [5, -5, 1, 2], [Missing, Missing, Missing, Missing], 1, null);
        Assert.Equal(0, none.Loss);
        Assert.Equal(0, none.Count);
        Assert.All(none.D, v => Assert.Equal(0, v));
        var accumulated = Run(k, [5, -5, 1, 2], [Missing, Missing, Missing, Missing], 1, [1, 2, 3, 4]);
        Assert.Equal([1, 2, 3, 4], accumulated.D);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_binary_accuracy_count_matches_a_host_count_on_every_device(string device)
    {
        var k = TestDevices.Get(device);
        foreach (int n in new[] { 1, 7, 5000 })
        {
            var z = Array.ConvertAll(Tolerance.Random(n, n + 5), v => (float)v);
            if (n > 1) z[1] = 0;                                   // z = 0 predicts class 0
            var y = RandomLabels(n, n + 6, 0.3);
            int expected = 0;
            for (int i = 0; i < n; i++) if (y[i] >= 0 && (z[i] > 0 ? 1 : 0) == y[i]) expected++;
            using var zv = k.Allocate<float>(z);
            using var yv = k.Allocate<int>(y);
            using var count = k.Allocate<float>(1);
            k.CountCorrectBinary(zv.View, yv.View, count.View);
            Assert.Equal(expected, k.Read(count.View));
        }
    }

    [Fact]
    public void A_label_above_one_is_rejected_naming_the_element()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Run(TestDevices.Reference, [0, 0, 0], [1, 0, 2], 1, null));
        Assert.Contains("labels[2] = 2", error.Message);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_through_a_linear_layer(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 6, 4, seed: 21);
        var w = leaves.Random("w", 1, 4, seed: 22);
        using var labels = backend.Allocate<int>([1, Missing, 0, 0, Missing, 1]);
        var result = GradCheck.Run(backend, tape => tape.MaskedBinaryCrossEntropy(tape.Linear(x, w), new Labels(labels.View)), [x, w]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(24 + 4, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_of_k_independent_logits(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var z = leaves.Random("z", 3, 3, seed: 23);
        using var labels = backend.Allocate<int>([1, 0, Missing, 0, 1, 1, Missing, Missing, 0]);
        var result = GradCheck.Run(backend, tape => tape.MaskedBinaryCrossEntropy(z, new Labels(labels.View)), [z]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(9, result.Checked);
    }
}
