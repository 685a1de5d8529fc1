using System.Text.Json;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>
/// Adagrad (lr decay, L2 weight decay, initial accumulator, clipping) against hand-derived steps, the float64 reference
/// <see cref="AdagradReference"/> (PyTorch's <c>_single_tensor_adagrad</c>, one pass per line), and PyTorch 1.13 itself
/// (Tests/Fixtures/adagrad_torch.json from make_adagrad_fixture.py).
/// </summary>
public class AdagradTests
{
    private static readonly TorchOptimizerFixture s_torch = new("adagrad_torch.json");

    /// <summary>Configurations with the initial accumulator value beside the kernel's settings.</summary>
    private static readonly (AdagradSettings Settings, double Initial)[] s_configs =
    [
        (new(0.01), 0),                                                  // PyTorch's defaults
        (new(0.1, LearningRateDecay: 0.05), 0),
        (new(0.05, Epsilon: 1e-6, WeightDecay: 0.1), 0.5),
        (new(0.2, LearningRateDecay: 0.1, WeightDecay: 0.05), 0.1),
    ];

    private static AdagradOptions Options(AdagradSettings c, double initial) => new()
    {
        LearningRate = c.LearningRate, LearningRateDecay = c.LearningRateDecay, Epsilon = c.Epsilon, WeightDecay = c.WeightDecay,
        InitialAccumulatorValue = initial,
    };

    private static (AdagradSettings, double) Settings(JsonElement c) => (new(c.GetProperty("lr").GetDouble(), c.GetProperty("lr_decay").GetDouble(),
        c.GetProperty("eps").GetDouble(), c.GetProperty("weight_decay").GetDouble()), c.GetProperty("initial_accumulator_value").GetDouble());

    [Fact]
    public void First_steps_follow_the_hand_derived_formulas()
    {
        // s₀ = 0: s₁ = g², Δθ₁ = −lr·g/(|g| + ε) ≈ −lr·sign(g). With g ≡ 2 and lr_decay 0.5: s₂ = 8, clr₂ = lr/1.5,
        // Δθ₂ = −(lr/1.5)·2/(√8 + ε). With s₀ = 1: s₁ = 1 + g², Δθ₁ = −lr·g/(√(1 + g²) + ε).
        double lr = 0.1, eps = 1e-10;
        using var model = new TestModel<double>(TestDevices.Reference, 2);
        model.SetValues([1, 1]);
        model.SetGradients([0.3, -4]);
        using (var plain = new Adagrad<double>(model.Backend, model.Parameters, new AdagradOptions { LearningRate = lr }))
        {
            plain.Step();
            Tolerance.AllClose([1 - lr * 0.3 / (0.3 + eps), 1 + lr * 4 / (4 + eps)], model.Values(), 1e-15, 1e-15, "θ");
        }

        using var m = new TestModel<double>(TestDevices.Reference, 1);
        m.SetValues([0]);
        m.SetGradients([2]);
        using var decayed = new Adagrad<double>(m.Backend, m.Parameters, new AdagradOptions { LearningRate = lr, LearningRateDecay = 0.5 });
        decayed.Step();
        decayed.Step();
        Tolerance.AllClose([-lr * 2 / (2 + eps) - lr / 1.5 * 2 / (Math.Sqrt(8) + eps)], m.Values(), 1e-14, 1e-15, "θ with lr decay");
        Tolerance.AllClose([8.0], m.Backend.ToArray(decayed.StateSum), 1e-15, 0, "sum");

        using var a = new TestModel<double>(TestDevices.Reference, 1);
        a.SetValues([0]);
        a.SetGradients([2]);
        using var accumulated = new Adagrad<double>(a.Backend, a.Parameters, new AdagradOptions { LearningRate = lr, InitialAccumulatorValue = 1 });
        Assert.Equal([1.0], a.Backend.ToArray(accumulated.StateSum));
        accumulated.Step();
        Tolerance.AllClose([-lr * 2 / (Math.Sqrt(5) + eps)], a.Values(), 1e-15, 1e-15, "θ with initial accumulator");
    }

    public static TheoryData<int> TorchCases() => [.. Enumerable.Range(0, s_torch.CaseCount)];

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_trajectory_equals_pytorchs(int index)
    {
        // Tolerance: float64 against float64, the same operations in the same order up to the fused kernel's rounding
        // (clr·(g/std) against torch's addcdiv): rtol 1e-13, atol 1e-15 over 8 steps.
        var c = s_torch.Case(index);
        Assert.StartsWith("1.13", s_torch.TorchVersion);
        var (settings, initial) = Settings(c);
        using var model = new TestModel<double>(TestDevices.Reference, s_torch.Sizes);
        using var adagrad = new Adagrad<double>(model.Backend, model.Parameters, Options(settings, initial));
        s_torch.Check(model, adagrad, c, 1e-13, 1e-15, $"case {index}");

        // The reference written apart follows torch too (so the float32 parity tests below measure against PyTorch's algorithm).
        var theta = s_torch.Theta0;
        var sum = Enumerable.Repeat(initial, theta.Length).ToArray();
        for (int step = 0; step < s_torch.Steps; step++)
        {
            var g = s_torch.Gradient(step);
            AdagradReference.Step(theta, g, sum, step + 1, settings, Reference.Clip(g, TorchOptimizerFixture.Clip(c)).Scale);
        }
        Tolerance.AllClose(TorchOptimizerFixture.Theta(c, s_torch.Steps - 1), theta, 1e-13, 1e-15, $"reference, case {index}");
        Tolerance.AllClose(TorchOptimizerFixture.State(c, "sum"), sum, 1e-13, 1e-15, $"reference sum, case {index}");
    }

    public static TheoryData<string, int> TorchFloat32Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32)
            for (int i = 0; i < s_torch.CaseCount; i++) data.Add(device.Data, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(TorchFloat32Cases))]
    public void Float32_trajectory_follows_pytorchs_float64_one(string device, int index)
    {
        // Tolerance: 8 float32 steps of up to lr ≤ 0.2 on θ ~ 0.5 (torch's float64 values rounded once to float32 at the
        // start), sums up to ~10: rtol 1e-5, atol 2e-6.
        var backend = TestDevices.Get(device);
        var c = s_torch.Case(index);
        var (settings, initial) = Settings(c);
        using var model = new TestModel<float>(backend, s_torch.Sizes);
        using var adagrad = new Adagrad<float>(backend, model.Parameters, Options(settings, initial));
        s_torch.Check(model, adagrad, c, 1e-5, 2e-6, $"case {index} on {device}");
    }

    public static TheoryData<string, int, int> Float32Cases() => OptimizerTestCases.DevicesSizesConfigs(0, 1, 2, 3);

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_matches_the_float64_reference(string device, int n, int config)
    {
        // Tolerance: 4 float32 steps of up to lr ≤ 0.2 on θ ~ 1, clipped to norm 2, with two parameter groups (the second
        // at 3× the rate): rtol 1e-5, atol 1e-6 (sum: rtol 1e-5, atol 1e-9).
        var backend = TestDevices.Get(device);
        var (c, initial) = s_configs[config];
        using var model = new TestModel<float>(backend, n, 5);
        int total = n + 5;
        var theta = TestModel<float>.Rounded(Tolerance.Random(total, seed: n));
        var sum = Enumerable.Repeat(initial, total).ToArray();
        model.SetValues(theta);
        var head = new ParameterGroup("head", ["p1"]) { LearningRate = 3 * c.LearningRate };
        using var adagrad = new Adagrad<float>(backend, model.Parameters, Options(c, initial) with { Groups = [head] });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, adagrad.Control);
        for (int step = 0; step < 4; step++)
        {
            var g = TestModel<float>.Rounded(Tolerance.Random(total, seed: 7 * n + step, lo: -3, hi: 3));
            model.SetGradients(g);
            clipper.Clip(maxNorm: 2.0);
            double scale = Reference.Clip(g, 2.0).Scale;
            var (t0, g0, s0) = (theta[..n], g[..n], sum[..n]);
            var (t1, g1, s1) = (theta[n..], g[n..], sum[n..]);
            AdagradReference.Step(t0, g0, s0, step + 1, c, scale);
            AdagradReference.Step(t1, g1, s1, step + 1, c with { LearningRate = 3 * c.LearningRate }, scale);
            theta = [.. t0, .. t1];
            sum = [.. s0, .. s1];
            adagrad.Step();
        }
        Tolerance.AllClose(theta, model.RawValues(), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(sum, backend.ToArray(adagrad.StateSum), 1e-5, 1e-9, $"sum on {device}");
    }

    [Fact]
    public void A_skipped_step_changes_nothing_and_state_is_named_like_pytorch()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 4, 2);
        model.SetValues(Tolerance.Random(6, seed: 4));
        using var adagrad = new Adagrad<double>(model.Backend, model.Parameters, new AdagradOptions { LearningRateDecay = 0.1 });
        Assert.Equal(["sum.p0", "sum.p1"], adagrad.SaveState().Tensors.Keys.Order());
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, adagrad.Control);
        model.SetGradients(Tolerance.Random(6, seed: 5));
        clipper.Clip(1.0);
        adagrad.Step();
        var before = adagrad.SaveState();
        var theta = model.Values();
        var g = Tolerance.Random(6, seed: 6);
        g[3] = double.PositiveInfinity;
        model.SetGradients(g);
        clipper.Clip(1.0);
        adagrad.Step();
        Assert.Equal(theta, model.Values());
        foreach (var (name, values) in before.Tensors) Assert.Equal(values, adagrad.SaveState().Tensors[name]);
        Assert.Equal(1, adagrad.Control.ReadSkippedSteps());
        Assert.Equal(1, adagrad.Control.ReadStepCount());
    }

    [Fact]
    public void Bad_options_are_rejected_by_name()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 2);
        Assert.Equal("LearningRateDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad<double>(model.Backend, model.Parameters, new AdagradOptions { LearningRateDecay = -0.1 })).ParamName);
        Assert.Equal("Epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad<double>(model.Backend, model.Parameters, new AdagradOptions { Epsilon = double.NaN })).ParamName);
        Assert.Equal("InitialAccumulatorValue", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad<double>(model.Backend, model.Parameters, new AdagradOptions { InitialAccumulatorValue = -1 })).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad<double>(model.Backend, model.Parameters,
            new AdagradOptions { Groups = [new ParameterGroup("a", ["p0"]) { WeightDecay = -1 }] }));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Kernel_rejects_mismatched_buffers_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(8);
        using var b = backend.Allocate<float>(7);
        using var control = backend.Allocate<float>(StepControl.Length);
        var settings = new AdagradSettings(0.1);
        Assert.Equal("stateSum", Assert.Throws<ArgumentException>(() => backend.AdagradStep(a.View, a.View, b.View, settings, control.View)).ParamName);
        Assert.Equal("control", Assert.Throws<ArgumentException>(() => backend.AdagradStep(a.View, a.View, a.View, settings, a.Slice(0, 4))).ParamName);
    }

    [Fact]
    public void A_small_cpu_step_allocates_nothing()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        using var model = new TestModel<float>(backend, 100, 30, 7);
        model.SetValues(Tolerance.Random(137, 1));
        model.SetGradients(Tolerance.Random(137, 2));
        var head = new ParameterGroup("head", ["p2"]) { LearningRate = 0.1 };
        using var adagrad = new Adagrad<float>(backend, model.Parameters, new AdagradOptions { LearningRateDecay = 0.1, Groups = [head], Schedule = new CosineSchedule(100) { WarmupSteps = 3 } });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, adagrad.Control);
        OptimizerTestCases.AssertAllocatesNothingOnceWarm(() =>
        {
            clipper.Clip(1.0);
            adagrad.Step();
        });
    }
}
