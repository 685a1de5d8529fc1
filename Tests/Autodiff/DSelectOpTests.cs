using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The DSelect-k ops (<see cref="Ops.SmoothStep{T}"/>, <see cref="Ops.Selectors{T}"/>, <see cref="Ops.SelectorEntropy{T}"/>;
/// docs/maths.md §17.5): float64 central-difference checks (<see cref="GradCheck"/>, |analytic − numeric| ≤ 1e-5 +
/// 1e-3·|numeric|, h = 1e-6) on the engine's float64 CPU path and on naive loops; the whole gate against PyTorch 1.13
/// float64 from the reference formula (Tests/Fixtures/dselect_torch.json, made by make_dselect_fixture.py: q, the
/// selectors, the entropy and the four parameter gradients, rtol 1e-10, atol 1e-12); and forward and backward of each
/// kernel on every float32 device (SIMD CPU, ILGPU CPU, CUDA when present) against the float64 reference
/// <see cref="DSelectReference"/> (rtol 1e-5; atol 1e-6 for values in [0, 1] and derivatives of size ≤ 3/(2γ), 1e-6·2^m
/// for ds, a sum over 2^m products), with S exactly 0 and 1 outside the band on every device.
/// </summary>
public class DSelectOpTests
{
    private static void AssertPasses(GradCheckResult result, int expected)
    {
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(expected, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Smooth_step_selectors_and_entropy_pass_a_gradient_check(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 6, 5, seed: 1);                       // in [−1, 1): inside and outside the band ±0.6
        AssertPasses(GradCheck.Run(backend, tape => tape.SmoothStep(x, 1.2), [x]), 30);

        var s = leaves.Make("s", 4, 2 * 3, Tolerance.Random(24, 2, 0.05, 0.95));   // B = 4, k = 2, m = 3: 8 experts
        AssertPasses(GradCheck.Run(backend, tape => tape.Selectors(s, 2), [s]), 24);

        var logits = leaves.Random("logits", 6, 4, seed: 3);
        AssertPasses(GradCheck.Run(backend, tape => tape.SelectorEntropy(tape.Softmax(logits), 0.3), [logits]), 24);
        var p = leaves.Make("p", 3, 4, Tolerance.Random(12, 4, 0.01, 1));             // r itself, away from 0
        AssertPasses(GradCheck.Run(backend, tape => tape.SelectorEntropy(p, 1.0), [p]), 12);

        // The whole gate as DSelectGate records it: q = Mixture(Selectors(S(Z·x + b)), softmax(W·x + c)), plus its entropy.
        var input = leaves.Random("input", 5, 3, seed: 5, requiresGrad: false);
        var zw = leaves.Random("zw", 2 * 2, 3, seed: 6);
        var zb = leaves.Random("zb", 1, 2 * 2, seed: 7);
        var ww = leaves.Random("ww", 2, 3, seed: 8);
        var wb = leaves.Random("wb", 1, 2, seed: 9);
        AssertPasses(GradCheck.Run(backend, tape =>
        {
            var r = tape.Selectors(tape.SmoothStep(tape.Linear(input, zw, zb), 1.5), 2);
            var q = tape.Mixture(r, tape.Softmax(tape.Linear(input, ww, wb)));
            return tape.Add(tape.Sum(tape.Tanh(q)), tape.SelectorEntropy(r, 0.1));
        }, [zw, zb, ww, wb]), 12 + 4 + 6 + 2);
    }

    public static TheoryData<string> TorchCases() => new() { "e4k2", "e8k3" };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void The_gate_matches_the_reference_formula_computed_in_pytorch(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("dselect_torch.json"))).RootElement;
        Assert.StartsWith("1.13", root.GetProperty("torch").GetString());
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] Get(JsonElement e, string key) => [.. e.GetProperty(key).EnumerateArray().Select(v => v.GetDouble())];
        int batch = c.GetProperty("batch").GetInt32(), inputs = c.GetProperty("inputs").GetInt32();
        int experts = c.GetProperty("experts").GetInt32(), k = c.GetProperty("k").GetInt32(), m = int.Log2(experts);
        double gamma = c.GetProperty("gamma").GetDouble(), lambda = c.GetProperty("lambda").GetDouble();
        Assert.InRange(c.GetProperty("saturated").GetInt32(), 1, batch * k * m - 1);   // both regimes of S are exercised

        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        var parameters = c.GetProperty("params");
        var x = leaves.Make("x", batch, inputs, Get(c, "x"), requiresGrad: false);
        var cotangent = leaves.Make("c", batch, experts, Get(c, "c"), requiresGrad: false);
        var zw = leaves.Make("z.weight", k * m, inputs, Get(parameters, "z.weight"));
        var zb = leaves.Make("z.bias", 1, k * m, Get(parameters, "z.bias"));
        var ww = leaves.Make("w.weight", k, inputs, Get(parameters, "w.weight"));
        var wb = leaves.Make("w.bias", 1, k, Get(parameters, "w.bias"));
        using var tape = new Tape<double>(backend);
        var r = tape.Selectors(tape.SmoothStep(tape.Linear(x, zw, zb), gamma), k);
        var q = tape.Mixture(r, tape.Softmax(tape.Linear(x, ww, wb)));
        var entropy = tape.SelectorEntropy(r, 1.0);
        var penalty = tape.SelectorEntropy(r, lambda / batch);

        Tolerance.AllClose(Get(c, "q"), backend.ToArray(q.Data), 1e-10, 1e-12, $"{name} q");
        Tolerance.AllClose(Get(c, "selectors"), backend.ToArray(r.Data), 1e-10, 1e-12, $"{name} selectors");
        Tolerance.AllClose([c.GetProperty("entropy").GetDouble()], backend.ToArray(entropy.Data), 1e-10, 1e-12, $"{name} entropy");
        tape.Backward(q, cotangent.Data);                                // ∂(Σ c ⊙ q)
        tape.Backward(penalty);                                          // + ∂(λ/B·H), accumulated into the leaves
        var grads = c.GetProperty("grads");
        foreach (var (tensor, key) in new[] { (zw, "z.weight"), (zb, "z.bias"), (ww, "w.weight"), (wb, "w.bias") })
            Tolerance.AllClose(Get(grads, key), backend.ToArray(tensor.Grad), 1e-10, 1e-12, $"{name} ∂{key}");
    }

    /// <summary>The values rounded to float32 on the device.</summary>
    private static DeviceBuffer<float> Device(Backend<float> backend, double[] values)
    {
        var buffer = backend.Allocate<float>(values.Length);
        backend.Upload<float>(Tolerance.ToFloat(values), buffer.View);
        return buffer;
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_kernels_match_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        const double gamma = 0.8;
        // The smooth-step at and beyond the band edges ±γ/2 = ±0.4, and inside it.
        double[] x = [.. new[] { -0.4, 0.4, -0.41, 0.41, -3, 3, 0, 0.1, -0.25 }, .. Tolerance.Random(40, 21)];
        double[] dy = Tolerance.Random(x.Length, 22);
        using var xs = Device(backend, x);
        using var dys = Device(backend, dy);
        using var ys = backend.Allocate<float>(x.Length);
        using var dxs = backend.Allocate<float>(x.Length);
        backend.SmoothStep(xs.View, (float)gamma, ys.View);
        var y = backend.ToArray(ys.View);
        var xf = Tolerance.ToDouble(Tolerance.ToFloat(x));                // the reference at the float32 inputs
        Tolerance.AllClose([.. xf.Select(v => DSelectReference.SmoothStep(v, gamma))], y, 1e-5, 1e-6, $"{device} S");
        for (int i = 0; i < x.Length; i++)
            if (Math.Abs((float)x[i]) >= 0.4f) Assert.Equal(x[i] < 0 ? 0f : 1f, y[i]);   // exactly 0 / 1 outside the band
        backend.Fill(dxs.View, 0.5f);
        backend.SmoothStepBackward(xs.View, dys.View, (float)gamma, dxs.View, accumulate: true);
        Tolerance.AllClose([.. xf.Select((v, i) => 0.5 + dy[i] * DSelectReference.SmoothStepDerivative(v, gamma))], backend.ToArray(dxs.View), 1e-5, 1e-6, $"{device} S′");

        const int rows = 7, selectors = 3, bits = 3, experts = 8;
        var s = Tolerance.Random(rows * selectors * bits, 23, 0, 1);
        s[0] = 0; s[4] = 1;                                             // saturated bits, as after training
        var dr = Tolerance.Random(selectors * rows * experts, 24);
        using var sv = Device(backend, s);
        using var drv = Device(backend, dr);
        using var rv = backend.Allocate<float>(dr.Length);
        using var dsv = backend.Allocate<float>(s.Length);
        var sf = Tolerance.ToDouble(Tolerance.ToFloat(s));
        backend.Selectors(sv.View, rows, selectors, bits, rv.View);
        Tolerance.AllClose(DSelectReference.Selectors(sf, rows, selectors, bits), backend.ToArray(rv.View), 1e-5, 1e-6, $"{device} r");
        backend.SelectorsBackward(sv.View, drv.View, rows, selectors, bits, dsv.View, accumulate: false);
        Tolerance.AllClose(DSelectReference.SelectorsBackward(sf, Tolerance.ToDouble(Tolerance.ToFloat(dr)), rows, selectors, bits),
            backend.ToArray(dsv.View), 1e-5, 1e-6 * experts, $"{device} ds");

        var p = backend.ToArray(rv.View);                                  // a selector output, zeros included
        using var terms = backend.Allocate<float>(p.Length);
        using var derivative = backend.Allocate<float>(p.Length);
        backend.EntropyTerms(rv.View, 0.25f, terms.View, derivative.View);
        var pd = Tolerance.ToDouble(p);
        Tolerance.AllClose([.. pd.Select(DSelectReference.EntropyTerm)], backend.ToArray(terms.View), 1e-5, 1e-6, $"{device} −r log(r + ε)");
        Tolerance.AllClose([.. pd.Select(v => 0.25 * DSelectReference.EntropyDerivative(v))], backend.ToArray(derivative.View), 1e-5, 1e-6, $"{device} h′");
    }

    [Fact]
    public void Bad_shapes_and_a_bad_gamma_are_refused()
    {
        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var s = leaves.Random("s", 3, 5, seed: 1);
        Assert.Equal("s", Assert.Throws<ArgumentException>(() => tape.Selectors(s, 2)).ParamName);          // 5 columns, k = 2
        Assert.Equal("gamma", Assert.Throws<ArgumentOutOfRangeException>(() => tape.SmoothStep(s, 0)).ParamName);
        Assert.Equal("bits", Assert.Throws<ArgumentOutOfRangeException>(() => tape.Selectors(leaves.Random("wide", 1, 11, seed: 2), 1)).ParamName);
    }
}
