using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// Activations (forward, backward from output, backward from input) and the linear elementwise
/// updates: the float64 CPU path against closed forms and loops written here, central differences
/// for every derivative, float32 parity on every device, and bad input.
/// </summary>
public class ElementwiseTests
{
    public static readonly Activation[] Activations = [Activation.Identity, Activation.Relu, Activation.Tanh, Activation.Sigmoid];

    /// <summary>Float32 devices × odd and even sizes; the CPU path also gets a size above its
    /// parallel threshold, so the chunked path split across the backend's own worker threads (CpuWorkers) is covered.</summary>
    public static TheoryData<string, int> DevicesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var row in TestDevices.Float32)
        {
            string device = row.Data;
            foreach (int n in new[] { 1, 7, 33, 257, 1000 }) data.Add(device, n);
            if (!TestDevices.IsEmulated(device)) data.Add(device, 200_003);
        }
        return data;
    }

    // ---- closed forms (float64) ------------------------------------------------------------

    private static double F(Activation a, double x) => a switch
    {
        Activation.Relu => Math.Max(0, x),
        Activation.Tanh => Math.Tanh(x),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => x,
    };

    /// <summary>f′(x) in closed form, written from x (not from f(x)) so it checks the kernels' algebra.</summary>
    private static double DF(Activation a, double x) => a switch
    {
        Activation.Relu => x > 0 ? 1 : 0,
        Activation.Tanh => 1 / (Math.Cosh(x) * Math.Cosh(x)),           // sech²x
        Activation.Sigmoid => Math.Exp(-x) / ((1 + Math.Exp(-x)) * (1 + Math.Exp(-x))),
        _ => 1,
    };

    // ---- float64 CPU path against closed forms ---------------------------------------------

    [Fact]
    public void Float64_activation_forward_matches_closed_forms()
    {
        var cpu = TestDevices.Reference;
        double[] x = [.. Tolerance.Random(1000, seed: 1, lo: -6, hi: 6), 0, -0.0, 30, -30, 700, -700, 1e-300, -1e-20, 1e-8, 3e-4, 0.124, 0.126];
        using var xs = cpu.Allocate<double>(x);
        using var ys = cpu.Allocate<double>(x.Length);
        foreach (var a in Activations)
        {
            cpu.ActivationForward(a, xs.View, ys.View);
            Tolerance.AllClose(Array.ConvertAll(x, v => F(a, v)), cpu.ToArray(ys.View), rtol: 1e-13, atol: 1e-300, what: $"{a}(x)");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Float64_activation_backward_from_output_and_from_input_match_closed_forms(bool accumulate)
    {
        var cpu = TestDevices.Reference;
        double[] x = [.. Tolerance.Random(999, seed: 2, lo: -5, hi: 5), 0.5, -0.5, 2.0];
        double[] dy = Tolerance.Random(x.Length, seed: 3, lo: -2, hi: 2);
        double[] dx0 = Tolerance.Random(x.Length, seed: 4);
        using var xs = cpu.Allocate<double>(x);
        using var ys = cpu.Allocate<double>(x.Length);
        using var dys = cpu.Allocate<double>(dy);
        using var dxs = cpu.Allocate<double>(x.Length);
        foreach (var a in Activations)
        {
            double[] expected = new double[x.Length];
            for (int i = 0; i < x.Length; i++) expected[i] = (accumulate ? dx0[i] : 0) + dy[i] * DF(a, x[i]);
            cpu.ActivationForward(a, xs.View, ys.View);

            cpu.Upload<double>(dx0, dxs.View);
            cpu.ActivationBackwardFromOutput(a, ys.View, dys.View, dxs.View, accumulate);
            Tolerance.AllClose(expected, cpu.ToArray(dxs.View), rtol: 1e-12, atol: 1e-14, what: $"{a} dx from output");

            cpu.Upload<double>(dx0, dxs.View);
            cpu.ActivationBackwardFromInput(a, xs.View, dys.View, dxs.View, accumulate);
            Tolerance.AllClose(expected, cpu.ToArray(dxs.View), rtol: 1e-12, atol: 1e-14, what: $"{a} dx from input");
        }
    }

    [Fact]
    public void Relu_derivative_is_zero_at_zero_and_ignores_infinite_gradients_there()
    {
        var cpu = TestDevices.Reference;
        using var x = cpu.Allocate<double>([0.0, -1.0, 2.0]);
        using var dy = cpu.Allocate<double>([double.PositiveInfinity, 5.0, 3.0]);
        using var dx = cpu.Allocate<double>(3);
        cpu.ActivationBackwardFromInput(Activation.Relu, x.View, dy.View, dx.View, accumulate: false);
        Assert.Equal([0.0, 0.0, 3.0], cpu.ToArray(dx.View));
    }

    // ---- central differences (float64) -----------------------------------------------------

    /// <summary>
    /// L(x) = Σᵢ wᵢ·f(xᵢ) has ∂L/∂xᵢ = wᵢ·f′(xᵢ), which is what the backward kernels return for dy = w.
    /// The numeric derivative (L(x + h·eᵢ) − L(x − h·eᵢ))/2h uses only the forward kernel.
    /// Inputs keep |x| ≥ 0.05 so no step crosses ReLU's kink.
    /// </summary>
    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void Activation_backward_matches_central_differences_of_the_forward(Activation a)
    {
        var cpu = TestDevices.Reference;
        const int n = 24;
        const double h = 1e-6;
        double[] x = Tolerance.Random(n, seed: 5, lo: -3, hi: 3);
        for (int i = 0; i < n; i++) if (Math.Abs(x[i]) < 0.05) x[i] += 0.1;
        double[] w = Tolerance.Random(n, seed: 6, lo: -1, hi: 1);
        using var xs = cpu.Allocate<double>(x);
        using var ys = cpu.Allocate<double>(n);
        using var ws = cpu.Allocate<double>(w);
        using var dx = cpu.Allocate<double>(n);
        using var probe = cpu.Allocate<double>(n);

        double Loss(double[] at)
        {
            cpu.Upload<double>(at, probe.View);
            cpu.ActivationForward(a, probe.View, probe.View); // in place
            double[] f = cpu.ToArray(probe.View);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += w[i] * f[i];
            return sum;
        }

        double[] numeric = new double[n];
        for (int i = 0; i < n; i++)
        {
            double[] plus = (double[])x.Clone(), minus = (double[])x.Clone();
            plus[i] += h;
            minus[i] -= h;
            numeric[i] = (Loss(plus) - Loss(minus)) / (2 * h);
        }

        cpu.ActivationForward(a, xs.View, ys.View);
        cpu.ActivationBackwardFromOutput(a, ys.View, ws.View, dx.View, accumulate: false);
        Tolerance.AllClose(numeric, cpu.ToArray(dx.View), rtol: 1e-6, atol: 1e-8, what: $"{a} dx from output");
        cpu.ActivationBackwardFromInput(a, xs.View, ws.View, dx.View, accumulate: false);
        Tolerance.AllClose(numeric, cpu.ToArray(dx.View), rtol: 1e-6, atol: 1e-8, what: $"{a} dx from input");
    }

    public static TheoryData<Activation> ActivationNames() => new(Activations);

    // ---- float32 parity --------------------------------------------------------------------

    /// <summary>
    /// Every activation kernel in float32 against the float64 path on the same (float-rounded) inputs.
    /// Tolerances: forward |err| ≤ 4e-6·|f| + 1e-6 (a few float32 ulps of tanh/exp); backward
    /// |err| ≤ 1e-5·|dx| + 2e-6 (f′ is computed from the float32 output y, whose rounding error is
    /// multiplied by |dy| ≤ 2 and by |∂f′/∂y| ≤ 2).
    /// </summary>
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void Float32_activations_match_the_float64_reference(string device, int n)
    {
        var backend = TestDevices.Get(device);
        var reference = TestDevices.Reference;
        float[] x = Tolerance.ToFloat(Tolerance.Random(n, seed: 10 + n, lo: -4, hi: 4));
        float[] dy = Tolerance.ToFloat(Tolerance.Random(n, seed: 11 + n, lo: -2, hi: 2));
        float[] dx0 = Tolerance.ToFloat(Tolerance.Random(n, seed: 12 + n));
        using var xf = backend.Allocate<float>(x);
        using var yf = backend.Allocate<float>(n);
        using var dyf = backend.Allocate<float>(dy);
        using var dxf = backend.Allocate<float>(n);
        using var xd = reference.Allocate<double>(Tolerance.ToDouble(x));
        using var yd = reference.Allocate<double>(n);
        using var dyd = reference.Allocate<double>(Tolerance.ToDouble(dy));
        using var dxd = reference.Allocate<double>(n);

        foreach (var a in Activations)
        {
            backend.ActivationForward(a, xf.View, yf.View);
            reference.ActivationForward(a, xd.View, yd.View);
            Tolerance.AllClose(reference.ToArray(yd.View), backend.ToArray(yf.View), rtol: 4e-6, atol: 1e-6, what: $"{device} {a}(x)");

            foreach (bool accumulate in new[] { false, true })
            {
                foreach (bool fromInput in new[] { false, true })
                {
                    backend.Upload<float>(dx0, dxf.View);
                    reference.Upload<double>(Tolerance.ToDouble(dx0), dxd.View);
                    if (fromInput)
                    {
                        backend.ActivationBackwardFromInput(a, xf.View, dyf.View, dxf.View, accumulate);
                        reference.ActivationBackwardFromInput(a, xd.View, dyd.View, dxd.View, accumulate);
                    }
                    else
                    {
                        backend.ActivationBackwardFromOutput(a, yf.View, dyf.View, dxf.View, accumulate);
                        reference.ActivationBackwardFromOutput(a, yd.View, dyd.View, dxd.View, accumulate);
                    }
                    Tolerance.AllClose(reference.ToArray(dxd.View), backend.ToArray(dxf.View), rtol: 1e-5, atol: 2e-6,
                        what: $"{device} {a} dx (fromInput={fromInput}, accumulate={accumulate})");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_activations_saturate_without_nan_at_huge_inputs(string device)
    {
        var backend = TestDevices.Get(device);
        float[] x = [-1000f, -100f, -20f, 0f, 20f, 100f, 1000f];
        using var xs = backend.Allocate<float>(x);
        using var ys = backend.Allocate<float>(x.Length);
        backend.ActivationForward(Activation.Tanh, xs.View, ys.View);
        Assert.Equal([-1f, -1f, -1f, 0f, 1f, 1f, 1f], backend.ToArray(ys.View));
        backend.ActivationForward(Activation.Sigmoid, xs.View, ys.View);
        float[] s = backend.ToArray(ys.View);
        Assert.All(s, v => Assert.True(float.IsFinite(v) && v >= 0 && v <= 1, $"sigmoid gave {v}"));
        Assert.Equal(0.5f, s[3]);
        Assert.Equal(1f, s[6]);
        Assert.True(s[0] < 1e-30f);
    }

    /// <summary>tanh near 0 must be accurate relative to its (small) value: tanh x ≈ x. TensorPrimitives.Tanh
    /// alone gives tanh(0) = −6e-8 in float32 and tanh(1e-20) = 0 in float64. Bound: 2 ulps
    /// (float32 2.4e-7, float64 4.5e-16 relative).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Tanh_is_accurate_relative_to_its_value_near_zero(string device)
    {
        double[] x = [0, 1e-30, -1e-20, 1e-10, -1e-7, 1e-5, 3e-4, -1e-3, 0.01, 0.1, -0.124, 0.126, 0.3, 0.5, -0.549, 0.551, 0.7, 1.3, 3];
        var backend = TestDevices.Get(device);
        float[] xf = Tolerance.ToFloat(x);
        using var xs = backend.Allocate<float>(xf);
        backend.ActivationForward(Activation.Tanh, xs.View, xs.View);
        Tolerance.AllClose(Array.ConvertAll(xf, v => Math.Tanh(v)), backend.ToArray(xs.View), rtol: 2.4e-7, atol: 0, what: $"{device} tanh");

        var reference = TestDevices.Reference;
        using var xd = reference.Allocate<double>(x);
        reference.ActivationForward(Activation.Tanh, xd.View, xd.View);
        Tolerance.AllClose(Array.ConvertAll(x, Math.Tanh), reference.ToArray(xd.View), rtol: 4.5e-16, atol: 0, what: "float64 tanh");
    }

    // ---- linear updates ----------------------------------------------------------------------

    [Fact]
    public void Float64_linear_updates_match_loops()
    {
        var cpu = TestDevices.Reference;
        const int n = 1003;
        double[] a = Tolerance.Random(n, seed: 20), b = Tolerance.Random(n, seed: 21), r0 = Tolerance.Random(n, seed: 22);
        using var av = cpu.Allocate<double>(a);
        using var bv = cpu.Allocate<double>(b);
        using var rv = cpu.Allocate<double>(n);
        using var s = cpu.Allocate<double>([-1.75]);
        const double rtol = 1e-15, atol = 1e-16; // one rounding (fused or not) per element

        double[] Expect(Func<int, double> f) => Enumerable.Range(0, n).Select(f).ToArray();
        void Reset() => cpu.Upload<double>(r0, rv.View);
        double[] Result() => cpu.ToArray(rv.View);

        cpu.Fill(rv.View, 2.5);
        Assert.All(Result(), v => Assert.Equal(2.5, v));
        cpu.Copy(av.View, rv.View);
        Assert.Equal(a, Result());
        Reset(); cpu.Scale(rv.View, 3.0);
        Tolerance.AllClose(Expect(i => 3.0 * r0[i]), Result(), rtol, atol, "Scale");
        Reset(); cpu.Axpy(-0.5, av.View, rv.View);
        Tolerance.AllClose(Expect(i => r0[i] - 0.5 * a[i]), Result(), rtol, atol, "Axpy");
        cpu.Add(av.View, bv.View, rv.View);
        Tolerance.AllClose(Expect(i => a[i] + b[i]), Result(), rtol, atol, "Add");
        cpu.Multiply(av.View, bv.View, rv.View, accumulate: false);
        Tolerance.AllClose(Expect(i => a[i] * b[i]), Result(), rtol, atol, "Multiply");
        Reset(); cpu.Multiply(av.View, bv.View, rv.View, accumulate: true);
        Tolerance.AllClose(Expect(i => r0[i] + a[i] * b[i]), Result(), rtol, atol, "Multiply accumulate");
        cpu.ScaleByScalar(av.View, s.View, rv.View, accumulate: false);
        Tolerance.AllClose(Expect(i => -1.75 * a[i]), Result(), rtol, atol, "ScaleByScalar");
        Reset(); cpu.ScaleByScalar(av.View, s.View, rv.View, accumulate: true);
        Tolerance.AllClose(Expect(i => r0[i] - 1.75 * a[i]), Result(), rtol, atol, "ScaleByScalar accumulate");
    }

    /// <summary>Each linear update in float32 against the float64 path; |err| ≤ 2e-7·|r| + 1e-7
    /// (one or two float32 roundings of values of order 1).</summary>
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void Float32_linear_updates_match_the_float64_reference(string device, int n)
    {
        var backend = TestDevices.Get(device);
        var reference = TestDevices.Reference;
        float[] a = Tolerance.ToFloat(Tolerance.Random(n, seed: 30 + n));
        float[] b = Tolerance.ToFloat(Tolerance.Random(n, seed: 31 + n));
        float[] r0 = Tolerance.ToFloat(Tolerance.Random(n, seed: 32 + n));
        using var af = backend.Allocate<float>(a);
        using var bf = backend.Allocate<float>(b);
        using var rf = backend.Allocate<float>(n);
        using var sf = backend.Allocate<float>([0.375f]);
        using var ad = reference.Allocate<double>(Tolerance.ToDouble(a));
        using var bd = reference.Allocate<double>(Tolerance.ToDouble(b));
        using var rd = reference.Allocate<double>(n);
        using var sd = reference.Allocate<double>([0.375]);

        void Check(string what, Action<Backend<float>, View<float>, View<float>, View<float>, View<float>> f32,
                   Action<Backend<double>, View<double>, View<double>, View<double>, View<double>> f64)
        {
            backend.Upload<float>(r0, rf.View);
            reference.Upload<double>(Tolerance.ToDouble(r0), rd.View);
            f32(backend, af.View, bf.View, rf.View, sf.View);
            f64(reference, ad.View, bd.View, rd.View, sd.View);
            Tolerance.AllClose(reference.ToArray(rd.View), backend.ToArray(rf.View), rtol: 2e-7, atol: 1e-7, what: $"{device} {what}");
        }

        Check("Fill", (k, x, y, r, s) => k.Fill(r, -0.3f), (k, x, y, r, s) => k.Fill(r, (double)-0.3f));
        Check("Copy", (k, x, y, r, s) => k.Copy(x, r), (k, x, y, r, s) => k.Copy(x, r));
        Check("Scale", (k, x, y, r, s) => k.Scale(r, 1.5f), (k, x, y, r, s) => k.Scale(r, 1.5));
        Check("Axpy", (k, x, y, r, s) => k.Axpy(-0.75f, x, r), (k, x, y, r, s) => k.Axpy(-0.75, x, r));
        Check("Add", (k, x, y, r, s) => k.Add(x, y, r), (k, x, y, r, s) => k.Add(x, y, r));
        Check("Add in place", (k, x, y, r, s) => k.Add(r, y, r), (k, x, y, r, s) => k.Add(r, y, r));
        Check("Multiply", (k, x, y, r, s) => k.Multiply(x, y, r, false), (k, x, y, r, s) => k.Multiply(x, y, r, false));
        Check("Multiply accumulate", (k, x, y, r, s) => k.Multiply(x, y, r, true), (k, x, y, r, s) => k.Multiply(x, y, r, true));
        Check("ScaleByScalar", (k, x, y, r, s) => k.ScaleByScalar(x, s, r, false), (k, x, y, r, s) => k.ScaleByScalar(x, s, r, false));
        Check("ScaleByScalar accumulate", (k, x, y, r, s) => k.ScaleByScalar(x, s, r, true), (k, x, y, r, s) => k.ScaleByScalar(x, s, r, true));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Views_into_one_buffer_are_updated_in_their_windows_only(string device)
    {
        var backend = TestDevices.Get(device);
        using var buffer = backend.Allocate<float>([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        var a = buffer.Slice(0, 3);      // 1 2 3
        var r = buffer.Slice(5, 3);      // 6 7 8
        backend.Add(a, r, r);            // 7 9 11
        backend.Scale(buffer.Slice(9, 1), -1);
        Assert.Equal([1f, 2, 3, 4, 5, 7, 9, 11, 9, -10], backend.ToArray(buffer.View));
    }

    /// <summary>Below the parallel threshold a CPU kernel call allocates nothing on the managed heap
    /// (no closures, no scratch arrays): measured over 100 calls of each family after a warm-up.</summary>
    [Fact]
    public void Cpu_kernels_allocate_nothing_on_small_tensors()
    {
        var k = TestDevices.Get(TestDevices.Cpu);
        const int batch = 50, classes = 20, n = batch * classes;
        using var x = k.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(n, seed: 90)));
        using var y = k.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(n, seed: 91)));
        using var d = k.Allocate<float>(n);
        using var p = k.Allocate<float>(n);
        using var s = k.Allocate<float>([1f]);
        using var cols = k.Allocate<float>(classes);
        using var labels = k.Allocate<int>(Enumerable.Range(0, batch).Select(i => i % classes).ToArray());
        void Step()
        {
            k.ActivationForward(Activation.Tanh, x.View, d.View);
            k.ActivationBackwardFromInput(Activation.Sigmoid, x.View, y.View, d.View, accumulate: true);
            k.ActivationBackwardFromOutput(Activation.Relu, x.View, y.View, d.View, accumulate: false);
            k.Axpy(0.5f, x.View, d.View);
            k.ScaleByScalar(x.View, s.View, d.View, accumulate: true);
            k.Multiply(x.View, y.View, d.View, accumulate: true);
            k.Sum(x.View, s.View, 1f);
            k.Dot(x.View, y.View, s.View);
            k.ColumnSums(x.View, batch, classes, cols.View, accumulate: true);
            k.MseForward(x.View, y.View, s.View);
            k.MseBackward(x.View, y.View, s.View, d.View, accumulate: false);
            k.SoftmaxCrossEntropyForward(x.View, labels.View, batch, classes, p.View, s.View);
            k.SoftmaxCrossEntropyBackward(p.View, labels.View, batch, classes, s.View, d.View, accumulate: true);
            k.CountCorrect(x.View, labels.View, batch, classes, s.View);
        }
        for (int i = 0; i < 5; i++) Step();
        WarmAllocations.AssertNone(() => { for (int i = 0; i < 100; i++) Step(); });
    }

    // ---- bad input -----------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Mismatched_lengths_throw_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var three = backend.Allocate<float>(3);
        using var four = backend.Allocate<float>(4);
        using var pair = backend.Allocate<float>(2);
        void Throws(string operand, Action call)
        {
            var error = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal(operand, error.ParamName);
            Assert.Contains(operand, error.Message);
        }
        Throws("y", () => backend.ActivationForward(Activation.Tanh, three.View, four.View));
        Throws("dy", () => backend.ActivationBackwardFromOutput(Activation.Relu, three.View, four.View, three.View, false));
        Throws("dx", () => backend.ActivationBackwardFromInput(Activation.Sigmoid, three.View, three.View, four.View, true));
        Throws("destination", () => backend.Copy(three.View, four.View));
        Throws("y", () => backend.Axpy(1f, three.View, four.View));
        Throws("b", () => backend.Add(three.View, four.View, three.View));
        Throws("result", () => backend.Multiply(three.View, three.View, four.View, false));
        Throws("scalar", () => backend.ScaleByScalar(three.View, pair.View, three.View, false));
        Throws("activation", () => backend.ActivationForward((Activation)42, three.View, three.View));
        Throws("result", () => backend.Add(four.Slice(0, 3), three.View, four.Slice(1, 3))); // shifted overlap
    }
}
