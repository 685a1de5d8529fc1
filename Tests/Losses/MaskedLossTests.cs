using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Masked MSE (NaN target = no label), masked softmax cross-entropy (label −1 = no label) and the masked difference:
/// the float64 path against naive loops written here, float32 parity on every device against float64, a hand-derived
/// example, the all-unlabelled batch (loss 0, count 0, gradient exactly 0, never NaN), float64 central-difference checks
/// through the tape, and equality with the unmasked kernels when every label is present.
/// Tolerances: float32 vs float64 rtol 1e-5, atol 1e-6 (one reduction of at most a few thousand terms).
/// </summary>
public class MaskedLossTests
{
    private const double Missing = double.NaN;

    // ---- naive float64 references -------------------------------------------------------------

    private static (double Loss, double Count, double[] D) NaiveMaskedMse(double[] p, double[] t, double upstream)
    {
        double sum = 0; int n = 0;
        for (int i = 0; i < p.Length; i++) if (!double.IsNaN(t[i])) { sum += (p[i] - t[i]) * (p[i] - t[i]); n++; }
        var d = new double[p.Length];
        for (int i = 0; i < p.Length; i++) d[i] = double.IsNaN(t[i]) ? 0 : upstream * 2 * (p[i] - t[i]) / Math.Max(n, 1);
        return (sum / Math.Max(n, 1), n, d);
    }

    private static (double Loss, double Count, double[] D) NaiveMaskedCrossEntropy(double[] z, int[] y, int classes, double upstream)
    {
        int batch = y.Length, n = y.Count(v => v >= 0);
        double loss = 0;
        var d = new double[z.Length];
        for (int i = 0; i < batch; i++)
        {
            double m = double.NegativeInfinity;
            for (int j = 0; j < classes; j++) m = Math.Max(m, z[i * classes + j]);
            double s = 0;
            for (int j = 0; j < classes; j++) s += Math.Exp(z[i * classes + j] - m);
            if (y[i] < 0) continue;
            loss += Math.Log(s) + m - z[i * classes + y[i]];
            for (int j = 0; j < classes; j++)
                d[i * classes + j] = upstream * (Math.Exp(z[i * classes + j] - m) / s - (j == y[i] ? 1 : 0)) / Math.Max(n, 1);
        }
        return (loss / Math.Max(n, 1), n, d);
    }

    // ---- running a kernel on a device, values in and out as double --------------------------------

    private static (double Loss, double Count, double[] D) Mse<T>(Backend<T> k, double[] p, double[] t, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var tv = k.Allocate<T>(Array.ConvertAll(t, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        k.MaskedMseForward(pv.View, tv.View, loss.View, count.View);
        k.MaskedMseBackward(pv.View, tv.View, count.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    private static (double Loss, double Count, double[] D) CrossEntropy<T>(Backend<T> k, double[] z, int[] y, int classes, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var p = k.Allocate<T>(z.Length);
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[z.Length], T.CreateTruncating));
        k.MaskedSoftmaxCrossEntropyForward(zv.View, yv.View, y.Length, classes, p.View, loss.View, count.View);
        k.MaskedSoftmaxCrossEntropyBackward(p.View, yv.View, y.Length, classes, count.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    private static double[] Targets(int n, int seed, double missingFraction)
    {
        var rng = new Random(seed);
        var t = Tolerance.Random(n, seed + 100);
        for (int i = 0; i < n; i++) if (rng.NextDouble() < missingFraction) t[i] = Missing;
        return t;
    }

    private static int[] MaskedLabels(int batch, int classes, int seed, double missingFraction)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => rng.NextDouble() < missingFraction ? MissingLabel.Class : rng.Next(classes)).ToArray();
    }

    // ---- hand-derived example --------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Mse_hand_derived_example_leaves_the_missing_target_out(string device)
    {
        // p = (1, 2, 3), t = (0, NaN, 5): n = 2, L = (1 + 4)/2 = 2.5, dp = 2(p − t)/2 = (1, 0, −2) (u = 1).
        var (loss, count, d) = Mse(TestDevices.Get(device), [1, 2, 3], [0, Missing, 5], 1, null);
        Assert.Equal(2.5, loss, 6);
        Assert.Equal(2, count);
        Tolerance.AllClose([1, 0, -2], d, 0, 1e-6, "dp");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Cross_entropy_hand_derived_example_leaves_the_unlabelled_row_out(string device)
    {
        // Row 0: z = (0, 0), y = 1 → loss ln 2; row 1 unlabelled. n = 1, L = ln 2, dz₀ = (0.5, −0.5), dz₁ = 0.
        var (loss, count, d) = CrossEntropy(TestDevices.Get(device), [0, 0, 3, -1], [1, MissingLabel.Class], 2, 1, null);
        Assert.Equal(Math.Log(2), loss, 6);
        Assert.Equal(1, count);
        Tolerance.AllClose([0.5, -0.5, 0, 0], d, 0, 1e-6, "dz");
    }

    // ---- float64 against the naive loops, float32 parity -----------------------------------------

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(257)]
    [InlineData(70_000)] // above the CPU's parallel threshold: chunked reduction
    public void Float64_mse_matches_the_naive_loop(int n)
    {
        var p = Tolerance.Random(n, 1);
        var t = Targets(n, 2, 0.4);
        var (loss, count, d) = Mse(TestDevices.Reference, p, t, 0.7, null);
        var expected = NaiveMaskedMse(p, t, 0.7);
        Assert.Equal(expected.Count, count);
        Tolerance.AllClose([expected.Loss], [loss], 1e-12, 0, "loss");
        Tolerance.AllClose(expected.D, d, 1e-12, 1e-15, "dp");
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(33, 3)]
    [InlineData(1000, 7)]
    public void Float64_cross_entropy_matches_the_naive_loop(int batch, int classes)
    {
        var z = Tolerance.Random(batch * classes, 3);
        var y = MaskedLabels(batch, classes, 4, 0.4);
        var (loss, count, d) = CrossEntropy(TestDevices.Reference, z, y, classes, 1.3, null);
        var expected = NaiveMaskedCrossEntropy(z, y, classes, 1.3);
        Assert.Equal(expected.Count, count);
        Tolerance.AllClose([expected.Loss], [loss], 1e-12, 1e-15, "loss");
        Tolerance.AllClose(expected.D, d, 1e-12, 1e-15, "dz");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_mse_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int n in TestDevices.IsEmulated(device) ? new[] { 1, 33, 257 } : [1, 33, 257, 1000, 70_000])
        {
            var p = Tolerance.Random(n, n);
            var t = Targets(n, n + 1, 0.3);
            var start = Tolerance.Random(n, n + 2);
            var expected = Mse(TestDevices.Reference, p, t, 0.9, start);
            var actual = Mse(backend, p, t, 0.9, start);
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss n={n}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dp (accumulated) n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_cross_entropy_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (var (batch, classes) in TestDevices.IsEmulated(device) ? new[] { (1, 2), (33, 3) } : [(1, 2), (33, 3), (1000, 7)])
        {
            var z = Array.ConvertAll(Tolerance.Random(batch * classes, batch), v => 20 * v); // large logits: the max shift matters
            var y = MaskedLabels(batch, classes, batch + 1, 0.3);
            var expected = CrossEntropy(TestDevices.Reference, z, y, classes, 1.1, null);
            var actual = CrossEntropy(backend, z, y, classes, 1.1, null);
            Assert.Equal(expected.Count, actual.Count);
            Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-5, $"loss {batch}×{classes}");
            Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dz {batch}×{classes}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void With_every_label_present_the_masked_kernels_equal_the_unmasked_ones(string device)
    {
        var k = TestDevices.Get(device);
        var p = Tolerance.Random(40, 5);
        var t = Tolerance.Random(40, 6);
        var masked = Mse(k, p, t, 1, null);
        using var pv = k.Allocate<float>(Array.ConvertAll(p, v => (float)v));
        using var tv = k.Allocate<float>(Array.ConvertAll(t, v => (float)v));
        using var loss = k.Allocate<float>(1);
        k.MseForward(pv.View, tv.View, loss.View);
        Assert.Equal(40, masked.Count);
        Tolerance.AllClose([k.Read(loss.View)], [masked.Loss], 1e-6, 0, "masked vs unmasked MSE");
    }

    // ---- a batch with no label -----------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_batch_without_labels_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        var mse = Mse(k, [1, 2, 3, 4], [Missing, Missing, Missing, Missing], 1, null);
        Assert.Equal(0, mse.Loss);
        Assert.Equal(0, mse.Count);
        Assert.All(mse.D, v => Assert.Equal(0, v));
        var ce = CrossEntropy(k, [5, -5, 1, 2, 0, 0], [MissingLabel.Class, MissingLabel.Class, MissingLabel.Class], 2, 1, null);
        Assert.Equal(0, ce.Loss);
        Assert.Equal(0, ce.Count);
        Assert.All(ce.D, v => Assert.Equal(0, v));
        // Accumulating leaves dz as it was for unlabelled rows.
        var accumulated = CrossEntropy(k, [5, -5, 1, 2], [MissingLabel.Class, MissingLabel.Class], 2, 1, [1, 2, 3, 4]);
        Assert.Equal([1, 2, 3, 4], accumulated.D);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Masked_difference_zeroes_the_missing_values_and_marks_the_present_ones(string device)
    {
        var k = TestDevices.Get(device);
        using var p = k.Allocate<float>([1, 2, 3, 4, 5]);
        using var t = k.Allocate<float>([0.5f, float.NaN, 1, float.NaN, 6]);
        using var d = k.Allocate<float>(5);
        using var m = k.Allocate<float>(5);
        k.MaskedDifference(p.View, t.View, d.View, m.View);
        Assert.Equal([0.5f, 0, 2, 0, -1], k.ToArray(d.View));
        Assert.Equal([1f, 0, 1, 0, 1], k.ToArray(m.View));
    }

    [Fact]
    public void A_label_beyond_the_classes_is_rejected_naming_the_row()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy(TestDevices.Reference, [0, 0, 0, 0], [1, 2], 2, 1, null));
        Assert.Contains("labels[1] = 2", error.Message);
        Assert.Throws<ArgumentException>(() => Mse(TestDevices.Reference, [1, 2], [1], 1, null));
    }

    // ---- float64 gradient checks through the tape ----------------------------------------------------

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_masked_mse(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("p", 4, 3, seed: 11);
        var t = leaves.Make("t", 4, 3, Targets(12, 12, 0.4), requiresGrad: false);
        var result = GradCheck.Run(backend, tape => tape.MaskedMse(p, t), [p]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(12, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_masked_cross_entropy_through_a_linear_layer(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 5, 4, seed: 13);
        var w = leaves.Random("w", 3, 4, seed: 14);
        using var labels = backend.Allocate<int>([2, MissingLabel.Class, 0, MissingLabel.Class, 1]);
        var result = GradCheck.Run(backend, tape => tape.MaskedSoftmaxCrossEntropy(tape.Linear(x, w), new Labels(labels.View)), [x, w]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(20 + 12, result.Checked);
    }
}
