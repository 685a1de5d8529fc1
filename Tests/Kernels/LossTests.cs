using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// MSE, softmax cross-entropy and the accuracy count: hand-derived examples, the float64 path against
/// naive loops, central differences of each backward against its forward, stability at huge logits,
/// float32 parity on every device, accumulate vs overwrite, and bad input.
/// </summary>
public class LossTests
{
    /// <summary>The float64 reference and every float32 device, for the hand-derived examples.</summary>
    public static TheoryData<string> AllDevices()
    {
        var data = new TheoryData<string>("float64");
        foreach (var row in TestDevices.Float32) data.Add(row.Data);
        return data;
    }

    /// <summary>Runs <paramref name="body"/> on the named device, in float64 for "float64" and in
    /// float32 otherwise, with values given and returned as double.</summary>
    private static void OnDevice(string device, Action<IHarness> body)
    {
        if (device == "float64") body(new Harness<double>(TestDevices.Reference));
        else body(new Harness<float>(TestDevices.Get(device)));
    }

    /// <summary>Values in and out as double; precision is the device's.</summary>
    private interface IHarness
    {
        Backend Backend { get; }
        double Eps { get; }
        double[] Mse(double[] p, double[] t, double upstream, double[]? dStart);
        (double Loss, double[] Probabilities, double[] Gradient) CrossEntropy(double[] logits, int[] labels, int classes, double upstream, double[]? dStart);
        double CountCorrect(double[] logits, int[] labels, int classes);
    }

    private sealed class Harness<T>(Backend<T> k) : IHarness where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public Backend Backend => k;
        public double Eps => typeof(T) == typeof(float) ? 1e-6 : 1e-14;
        private static T[] In(double[] v) => Array.ConvertAll(v, T.CreateTruncating);
        private static double[] Out(T[] v) => Array.ConvertAll(v, double.CreateTruncating);

        /// <summary>Returns [loss, gradient…].</summary>
        public double[] Mse(double[] p, double[] t, double upstream, double[]? dStart)
        {
            using var pv = k.Allocate<T>(In(p));
            using var tv = k.Allocate<T>(In(t));
            using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
            using var loss = k.Allocate<T>(1);
            using var d = k.Allocate<T>(In(dStart ?? new double[p.Length]));
            k.MseForward(pv.View, tv.View, loss.View);
            k.MseBackward(pv.View, tv.View, u.View, d.View, accumulate: dStart is not null);
            return [double.CreateTruncating(k.Read(loss.View)), .. Out(k.ToArray(d.View))];
        }

        public (double Loss, double[] Probabilities, double[] Gradient) CrossEntropy(double[] logits, int[] labels, int classes, double upstream, double[]? dStart)
        {
            int batch = labels.Length;
            using var z = k.Allocate<T>(In(logits));
            using var y = k.Allocate<int>(labels);
            using var p = k.Allocate<T>(logits.Length);
            using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
            using var loss = k.Allocate<T>(1);
            using var d = k.Allocate<T>(In(dStart ?? new double[logits.Length]));
            k.SoftmaxCrossEntropyForward(z.View, y.View, batch, classes, p.View, loss.View);
            k.SoftmaxCrossEntropyBackward(p.View, y.View, batch, classes, u.View, d.View, accumulate: dStart is not null);
            return (double.CreateTruncating(k.Read(loss.View)), Out(k.ToArray(p.View)), Out(k.ToArray(d.View)));
        }

        public double CountCorrect(double[] logits, int[] labels, int classes)
        {
            using var z = k.Allocate<T>(In(logits));
            using var y = k.Allocate<int>(labels);
            using var count = k.Allocate<T>([T.CreateTruncating(-1.0)]);
            k.CountCorrect(z.View, y.View, labels.Length, classes, count.View);
            return double.CreateTruncating(k.Read(count.View));
        }
    }

    // ---- naive float64 references -----------------------------------------------------------

    private static double NaiveMse(double[] p, double[] t)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += (p[i] - t[i]) * (p[i] - t[i]);
        return sum / p.Length;
    }

    /// <summary>Loss (log-sum-exp with the max shift), probabilities and (p − onehot)/B·u, written out plainly.</summary>
    private static (double Loss, double[] P, double[] D) NaiveCrossEntropy(double[] z, int[] y, int classes, double upstream)
    {
        int batch = y.Length;
        double loss = 0;
        double[] p = new double[z.Length], d = new double[z.Length];
        for (int i = 0; i < batch; i++)
        {
            double m = double.NegativeInfinity;
            for (int j = 0; j < classes; j++) m = Math.Max(m, z[i * classes + j]);
            double s = 0;
            for (int j = 0; j < classes; j++) s += Math.Exp(z[i * classes + j] - m);
            loss += Math.Log(s) + m - z[i * classes + y[i]];
            for (int j = 0; j < classes; j++)
            {
                p[i * classes + j] = Math.Exp(z[i * classes + j] - m) / s;
                d[i * classes + j] = upstream * (p[i * classes + j] - (j == y[i] ? 1 : 0)) / batch;
            }
        }
        return (loss / batch, p, d);
    }

    private static int[] RandomLabels(int batch, int classes, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray();
    }

    // ---- hand-derived examples (every device) ----------------------------------------------------

    /// <summary>p = [1, 2], t = [0, 4]: squared errors 1 and 4, mean 2.5; ∂L/∂p = 2(p − t)/2 = [1, −2].</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Mse_of_1_2_against_0_4_is_2_5_with_gradient_1_minus_2(string device) => OnDevice(device, k =>
    {
        double[] r = k.Mse([1, 2], [0, 4], upstream: 1, dStart: null);
        Assert.Equal([2.5, 1, -2], r);
        r = k.Mse([1, 2], [0, 4], upstream: 3, dStart: null);              // upstream scales the gradient
        Assert.Equal([2.5, 3, -6], r);
        r = k.Mse([1, 2], [0, 4], upstream: 3, dStart: [10, 10]);          // accumulate adds to what was there
        Assert.Equal([2.5, 13, 4], r);
    });

    /// <summary>z = [1, 2, 3], y = 2: L = log(e¹ + e² + e³) − 3 = log(1 + e⁻¹ + e⁻²) = 0.40760596444438…,
    /// p = e^z/Σe^z = [0.0900306, 0.2447285, 0.6652410], ∂L/∂z = p − onehot(2).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Cross_entropy_of_logits_1_2_3_with_label_2(string device) => OnDevice(device, k =>
    {
        var (loss, p, d) = k.CrossEntropy([1, 2, 3], [2], classes: 3, upstream: 1, dStart: null);
        double tol = k.Eps;
        Assert.Equal(0.40760596444438013, loss, tol);
        Assert.Equal(Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3, loss, tol);
        Tolerance.AllClose([0.09003057317038046, 0.24472847105479767, 0.6652409557748219], p, 0, tol, "p");
        Tolerance.AllClose([0.09003057317038046, 0.24472847105479767, 0.6652409557748219 - 1], d, 0, tol, "dz");

        // Two rows: the second ([0, 0, 0], label 0) has loss log 3; the mean over the batch is taken,
        // and the gradient of each row is divided by B = 2 (and scaled by the upstream 4).
        (loss, p, d) = k.CrossEntropy([1, 2, 3, 0, 0, 0], [2, 0], classes: 3, upstream: 4, dStart: null);
        Assert.Equal((0.40760596444438013 + Math.Log(3)) / 2, loss, tol);
        Tolerance.AllClose([0.09003057317038046 * 2, 0.24472847105479767 * 2, (0.6652409557748219 - 1) * 2,
                            (1.0 / 3 - 1) * 2, 1.0 / 3 * 2, 1.0 / 3 * 2], d, 0, 4 * tol, "dz (B = 2, u = 4)");
    });

    /// <summary>Logits ±1000 overflow e^z in any precision unless the row maximum is subtracted first.
    /// Row 1 [1000, −1000, 0], label 0: L = log(1 + e⁻²⁰⁰⁰ + e⁻¹⁰⁰⁰) = 0. Row 2 [−1000, 1000, 1000],
    /// label 1: L = log 2, p = [0, ½, ½].</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Cross_entropy_is_finite_and_exact_for_logits_of_plus_minus_1000(string device) => OnDevice(device, k =>
    {
        var (loss, p, d) = k.CrossEntropy([1000, -1000, 0, -1000, 1000, 1000], [0, 1], classes: 3, upstream: 1, dStart: null);
        Assert.True(double.IsFinite(loss));
        Assert.All(p, v => Assert.True(double.IsFinite(v)));
        Assert.All(d, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(Math.Log(2) / 2, loss, k.Eps);
        Tolerance.AllClose([1, 0, 0, 0, 0.5, 0.5], p, 0, k.Eps, "p");
        Tolerance.AllClose([0, 0, 0, 0, -0.25, 0.25], d, 0, k.Eps, "dz");
    });

    /// <summary>Argmax per row with ties to the lowest index: [1,3,3]→1 ✓, [5,1,1]→0 ✓, [0,0,0]→0 ✓, [2,2,1]→0 ✗(label 1).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Count_correct_takes_the_first_largest_logit(string device) => OnDevice(device, k =>
    {
        Assert.Equal(3.0, k.CountCorrect([1, 3, 3, 5, 1, 1, 0, 0, 0, 2, 2, 1], [1, 0, 0, 1], classes: 3));
        Assert.Equal(0.0, k.CountCorrect([1, 3, 3], [2], classes: 3));
    });

    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Backward_kernels_accumulate_or_overwrite(string device) => OnDevice(device, k =>
    {
        double[] start = [0.5, -0.25, 2];
        var (_, _, overwritten) = k.CrossEntropy([0.1, -0.4, 0.3], [1], 3, upstream: 1.5, dStart: null);
        var (_, _, accumulated) = k.CrossEntropy([0.1, -0.4, 0.3], [1], 3, upstream: 1.5, dStart: start);
        Tolerance.AllClose(overwritten.Select((g, i) => g + start[i]).ToArray(), accumulated, 0, 4 * k.Eps, "dz accumulate");

        double[] mseOver = k.Mse([0.3, 0.7, -1], [1, 1, 1], upstream: 0.5, dStart: null);
        double[] mseAcc = k.Mse([0.3, 0.7, -1], [1, 1, 1], upstream: 0.5, dStart: start);
        Tolerance.AllClose(mseOver[1..].Select((g, i) => g + start[i]).ToArray(), mseAcc[1..], 0, 4 * k.Eps, "dp accumulate");
    });

    // ---- float64 path against naive loops -------------------------------------------------------

    [Fact]
    public void Float64_losses_match_naive_loops()
    {
        var k = new Harness<double>(TestDevices.Reference);
        foreach (var (batch, classes) in new[] { (1, 1), (1, 5), (7, 3), (64, 10), (300, 257) })
        {
            double[] z = Tolerance.Random(batch * classes, seed: batch + classes, lo: -8, hi: 8);
            int[] y = RandomLabels(batch, classes, seed: batch);
            var (loss, p, d) = k.CrossEntropy(z, y, classes, upstream: 0.7, dStart: null);
            var naive = NaiveCrossEntropy(z, y, classes, 0.7);
            Assert.Equal(naive.Loss, loss, 1e-12);
            Tolerance.AllClose(naive.P, p, 1e-12, 1e-15, $"p {batch}x{classes}");
            Tolerance.AllClose(naive.D, d, 1e-12, 1e-15, $"dz {batch}x{classes}");

            double[] target = Tolerance.Random(z.Length, seed: 3);
            double[] mse = k.Mse(z, target, upstream: -1.3, dStart: null);
            Assert.Equal(NaiveMse(z, target), mse[0], 1e-12 * NaiveMse(z, target));
            Tolerance.AllClose(z.Select((v, i) => -1.3 * 2 * (v - target[i]) / z.Length).ToArray(), mse[1..], 1e-14, 1e-16, "MSE gradient");

            int correct = 0;
            for (int i = 0; i < batch; i++)
            {
                int best = 0;
                for (int j = 1; j < classes; j++) if (z[i * classes + j] > z[i * classes + best]) best = j;
                if (best == y[i]) correct++;
            }
            Assert.Equal(correct, k.CountCorrect(z, y, classes));
        }
    }

    // ---- central differences (float64) ---------------------------------------------------------

    /// <summary>∂(u·MSE)/∂pᵢ from MseBackward against (L(p + h·eᵢ) − L(p − h·eᵢ))/2h from MseForward.</summary>
    [Fact]
    public void Mse_backward_matches_central_differences()
    {
        var k = new Harness<double>(TestDevices.Reference);
        double[] p = Tolerance.Random(11, seed: 60, lo: -2, hi: 2), t = Tolerance.Random(11, seed: 61);
        const double u = 1.7, h = 1e-6;
        double[] analytic = k.Mse(p, t, u, dStart: null)[1..];
        double[] numeric = CentralDifferences(p, h, at => u * k.Mse(at, t, u, null)[0]);
        Tolerance.AllClose(numeric, analytic, rtol: 1e-6, atol: 1e-9, what: "MSE dp");
    }

    /// <summary>∂(u·CE)/∂z from SoftmaxCrossEntropyBackward (fed the saved probabilities) against central
    /// differences of SoftmaxCrossEntropyForward's loss, for a 4×5 batch.</summary>
    [Fact]
    public void Cross_entropy_backward_matches_central_differences()
    {
        var k = new Harness<double>(TestDevices.Reference);
        const int batch = 4, classes = 5;
        double[] z = Tolerance.Random(batch * classes, seed: 62, lo: -3, hi: 3);
        int[] y = [4, 0, 2, 2];
        const double u = 0.8, h = 1e-6;
        var (_, _, analytic) = k.CrossEntropy(z, y, classes, u, dStart: null);
        double[] numeric = CentralDifferences(z, h, at => u * k.CrossEntropy(at, y, classes, u, null).Loss);
        Tolerance.AllClose(numeric, analytic, rtol: 1e-6, atol: 1e-9, what: "CE dz");
    }

    private static double[] CentralDifferences(double[] x, double h, Func<double[], double> f)
    {
        double[] g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double[] plus = (double[])x.Clone(), minus = (double[])x.Clone();
            plus[i] += h;
            minus[i] -= h;
            g[i] = (f(plus) - f(minus)) / (2 * h);
        }
        return g;
    }

    // ---- float32 parity ------------------------------------------------------------------------------

    public static TheoryData<string, int, int> DevicesAndShapes()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var row in TestDevices.Float32)
        {
            string device = row.Data;
            foreach (var (b, c) in new[] { (1, 1), (1, 7), (7, 3), (33, 10), (257, 4), (1000, 2) }) data.Add(device, b, c);
            if (!TestDevices.IsEmulated(device)) { data.Add(device, 4000, 33); data.Add(device, 3, 1000); }
        }
        return data;
    }

    /// <summary>
    /// Every loss kernel in float32 against the float64 path on the same float-rounded inputs
    /// (logits in [−10, 10]). Tolerances: loss rtol 1e-5 (a mean of row losses of order 1–20, each
    /// with a few float32 roundings); probabilities and gradients atol 1e-6 (values in [0, 1], and
    /// gradients additionally divided by B); accuracy count exact.
    /// </summary>
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void Float32_losses_match_the_float64_reference(string device, int batch, int classes)
    {
        var k32 = new Harness<float>(TestDevices.Get(device));
        var k64 = new Harness<double>(TestDevices.Reference);
        double[] z = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(batch * classes, seed: 70 + batch, lo: -10, hi: 10)));
        double[] t = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(batch * classes, seed: 71 + batch, lo: -10, hi: 10)));
        double[] start = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(batch * classes, seed: 72)));
        int[] y = RandomLabels(batch, classes, seed: 73 + classes);
        const double u = 1.25;

        foreach (var dStart in new[] { null, start })
        {
            var ce32 = k32.CrossEntropy(z, y, classes, u, dStart);
            var ce64 = k64.CrossEntropy(z, y, classes, u, dStart);
            Assert.Equal(ce64.Loss, ce32.Loss, 1e-5 * Math.Abs(ce64.Loss) + 1e-6);
            Tolerance.AllClose(ce64.Probabilities, ce32.Probabilities, 1e-5, 1e-6, $"{device} p");
            Tolerance.AllClose(ce64.Gradient, ce32.Gradient, 1e-5, 1e-6, $"{device} dz (accumulate={dStart is not null})");

            double[] mse32 = k32.Mse(z, t, u, dStart), mse64 = k64.Mse(z, t, u, dStart);
            Assert.Equal(mse64[0], mse32[0], 1e-5 * mse64[0]);
            Tolerance.AllClose(mse64[1..], mse32[1..], 1e-5, 1e-6, $"{device} MSE dp (accumulate={dStart is not null})");
        }
        Assert.Equal(k64.CountCorrect(z, y, classes), k32.CountCorrect(z, y, classes));
    }

    // ---- bad input ------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Bad_shapes_throw_naming_the_operand(string device)
    {
        var k = TestDevices.Get(device);
        using var six = k.Allocate<float>(6);
        using var five = k.Allocate<float>(5);
        using var one = k.Allocate<float>(1);
        using var two = k.Allocate<float>(2);
        using var labels2 = k.Allocate<int>([0, 1]);
        using var labels3 = k.Allocate<int>([0, 1, 2]);
        void Throws(string operand, Action call)
        {
            var error = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal(operand, error.ParamName);
            Assert.Contains(operand, error.Message);
        }
        // 2×3 logits: a 5-element view is not batch×classes.
        var logitsError = Assert.ThrowsAny<ArgumentException>(() => k.SoftmaxCrossEntropyForward(five.View, labels2.View, 2, 3, six.View, one.View));
        Assert.Equal("logits", logitsError.ParamName);
        Assert.Contains("batch×classes", logitsError.Message);
        Throws("labels", () => k.SoftmaxCrossEntropyForward(six.View, labels3.View, 2, 3, six.View, one.View));
        Throws("probabilities", () => k.SoftmaxCrossEntropyForward(six.View, labels2.View, 2, 3, five.View, one.View));
        Throws("loss", () => k.SoftmaxCrossEntropyForward(six.View, labels2.View, 2, 3, six.View, two.View));
        Throws("batch", () => k.SoftmaxCrossEntropyForward(six.View, labels2.View, 0, 3, six.View, one.View));
        Throws("probabilities", () => k.SoftmaxCrossEntropyBackward(five.View, labels2.View, 2, 3, one.View, six.View, false));
        Throws("upstream", () => k.SoftmaxCrossEntropyBackward(six.View, labels2.View, 2, 3, two.View, six.View, false));
        Throws("dLogits", () => k.SoftmaxCrossEntropyBackward(six.View, labels2.View, 2, 3, one.View, five.View, false));
        Throws("logits", () => k.CountCorrect(five.View, labels2.View, 2, 3, one.View));
        Throws("count", () => k.CountCorrect(six.View, labels2.View, 2, 3, two.View));
        Throws("target", () => k.MseForward(six.View, five.View, one.View));
        Throws("loss", () => k.MseForward(six.View, six.View, two.View));
        Throws("prediction", () => k.MseForward(six.Slice(0, 0), six.Slice(0, 0), one.View));
        Throws("dPrediction", () => k.MseBackward(six.View, six.View, one.View, five.View, false));
        Throws("upstream", () => k.MseBackward(six.View, six.View, two.View, six.View, false));
    }

    /// <summary>The CPU path checks labels (it reads them anyway); a label outside [0, classes) is named.</summary>
    [Fact]
    public void Cpu_rejects_a_label_outside_the_classes()
    {
        var k = TestDevices.Get(TestDevices.Cpu);
        using var z = k.Allocate<float>(6);
        using var p = k.Allocate<float>(6);
        using var loss = k.Allocate<float>(1);
        using var labels = k.Allocate<int>([1, 3]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => k.SoftmaxCrossEntropyForward(z.View, labels.View, 2, 3, p.View, loss.View));
        Assert.Equal("labels", error.ParamName);
        Assert.Contains("labels[1] = 3", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => k.CountCorrect(z.View, labels.View, 2, 3, loss.View));
    }

    /// <summary>The ILGPU path cannot check labels without a device read; a label outside [0, classes)
    /// must then poison the loss and that row's gradient with NaN (never read out of bounds or pass silently).</summary>
    [Fact]
    public void Ilgpu_turns_a_label_outside_the_classes_into_nan()
    {
        var k = TestDevices.Get(TestDevices.IlgpuCpu);
        using var z = k.Allocate<float>([1, 2, 3, 0, 0, 0]);
        using var p = k.Allocate<float>(6);
        using var loss = k.Allocate<float>(1);
        using var u = k.Allocate<float>([1f]);
        using var d = k.Allocate<float>(6);
        using var labels = k.Allocate<int>([2, 3]);
        k.SoftmaxCrossEntropyForward(z.View, labels.View, 2, 3, p.View, loss.View);
        Assert.True(float.IsNaN(k.Read(loss.View)));
        k.SoftmaxCrossEntropyBackward(p.View, labels.View, 2, 3, u.View, d.View, accumulate: false);
        float[] g = k.ToArray(d.View);
        Assert.All(g[..3], v => Assert.True(float.IsFinite(v)));
        Assert.All(g[3..], v => Assert.True(float.IsNaN(v)));
    }
}
