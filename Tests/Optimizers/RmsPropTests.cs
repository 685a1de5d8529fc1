using System.Text.Json;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>
/// RMSprop (plain, momentum, centered, L2 weight decay, clipping) against hand-derived steps, the float64 reference
/// <see cref="RmsPropReference"/> (PyTorch's <c>_single_tensor_rmsprop</c>, one pass per line), and PyTorch 1.13 itself
/// (Tests/Fixtures/rmsprop_torch.json from make_rmsprop_fixture.py).
/// </summary>
public class RmsPropTests
{
    private static readonly TorchOptimizerFixture s_torch = new("rmsprop_torch.json");

    private static readonly RmsPropSettings[] s_configs =
    [
        new(0.01),                                                       // PyTorch's defaults
        new(0.01, Momentum: 0.9),
        new(0.02, Alpha: 0.9, Centered: true),
        new(0.01, Alpha: 0.9, Epsilon: 1e-6, WeightDecay: 0.1, Momentum: 0.5, Centered: true),
        new(0.05, Alpha: 0.95, WeightDecay: 0.05),
    ];

    private static RmsPropOptions Options(RmsPropSettings c) => new()
    {
        LearningRate = c.LearningRate, Alpha = c.Alpha, Epsilon = c.Epsilon, WeightDecay = c.WeightDecay, Momentum = c.Momentum, Centered = c.Centered,
    };

    private static RmsPropSettings Settings(JsonElement c) => new(c.GetProperty("lr").GetDouble(), c.GetProperty("alpha").GetDouble(),
        c.GetProperty("eps").GetDouble(), c.GetProperty("weight_decay").GetDouble(), c.GetProperty("momentum").GetDouble(), c.GetProperty("centered").GetBoolean());

    [Fact]
    public void First_steps_follow_the_hand_derived_formulas()
    {
        // t = 1, α = 0.99: v = 0.01·g², so Δθ = −lr·g/(0.1·|g| + ε) ≈ −10·lr·sign(g).
        // Centered: ḡ = 0.01·g, v − ḡ² = (0.01 − 0.0001)·g² = 0.0099·g², Δθ = −lr·g/(√0.0099·|g| + ε).
        // Momentum μ = 0.9 with g ≡ 2: d₁ = 0.1·2, buf₁ = 2/d₁ = 10; v₂ = 0.99·0.04 + 0.04 = 0.0796, buf₂ = 0.9·10 + 2/(√0.0796 + ε).
        double lr = 0.01, eps = 1e-8;
        (RmsPropOptions Options, double[] G, double[] Expected)[] cases =
        [
            (new RmsPropOptions { LearningRate = lr }, [0.3, -4], [1 - lr * 0.3 / (0.1 * 0.3 + eps), 1 + lr * 4 / (0.1 * 4 + eps)]),
            (new RmsPropOptions { LearningRate = lr, Centered = true }, [0.3, -4], [1 - lr * 0.3 / (Math.Sqrt(0.0099) * 0.3 + eps), 1 + lr * 4 / (Math.Sqrt(0.0099) * 4 + eps)]),
        ];
        foreach (var (options, g, expected) in cases)
        {
            using var model = new TestModel<double>(TestDevices.Reference, 2);
            model.SetValues([1, 1]);
            model.SetGradients(g);
            using var rmsProp = new RmsProp<double>(model.Backend, model.Parameters, options);
            rmsProp.Step();
            Tolerance.AllClose(expected, model.Values(), 1e-14, 1e-15, options.Centered ? "centered θ" : "θ");
        }

        using var m = new TestModel<double>(TestDevices.Reference, 1);
        m.SetValues([0]);
        m.SetGradients([2]);
        using var heavy = new RmsProp<double>(m.Backend, m.Parameters, new RmsPropOptions { LearningRate = lr, Momentum = 0.9 });
        heavy.Step();
        heavy.Step();
        double buf1 = 2 / (0.2 + eps), buf2 = 0.9 * buf1 + 2 / (Math.Sqrt(0.0796) + eps);
        Tolerance.AllClose([-lr * buf1 - lr * buf2], m.Values(), 1e-14, 1e-15, "θ with momentum");
        Tolerance.AllClose([buf2], m.Backend.ToArray(heavy.MomentumBuffer), 1e-14, 0, "momentum buffer");
        Tolerance.AllClose([0.0796], m.Backend.ToArray(heavy.SquareAverage), 1e-14, 0, "square_avg");
    }

    public static TheoryData<int> Configs() => [.. Enumerable.Range(0, s_configs.Length)];

    [Theory]
    [MemberData(nameof(Configs))]
    public void Float64_trajectory_with_clipping_matches_the_reference(int config)
    {
        var c = s_configs[config];
        var theta = Tolerance.Random(40, seed: 1);
        var state = new RmsPropReference.State(40);
        using var model = new TestModel<double>(TestDevices.Reference, 13, 1, 26);
        model.SetValues(theta);
        using var rmsProp = new RmsProp<double>(model.Backend, model.Parameters, Options(c));
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, rmsProp.Control);
        for (int step = 0; step < 6; step++)
        {
            var g = Tolerance.Random(40, seed: 100 + step, lo: -2, hi: 2);
            model.SetGradients(g);
            clipper.Clip(maxNorm: step % 2 == 0 ? 3.0 : double.PositiveInfinity);
            RmsPropReference.Step(theta, g, state, c, step % 2 == 0 ? Reference.Clip(g, 3.0).Scale : 1);
            rmsProp.Step();
        }
        Tolerance.AllClose(theta, model.Values(), 1e-12, 1e-14, "θ");
        Tolerance.AllClose(state.SquareAverage, rmsProp.Backend.ToArray(rmsProp.SquareAverage), 1e-12, 1e-14, "square_avg");
        if (c.Centered) Tolerance.AllClose(state.GradientAverage, rmsProp.Backend.ToArray(rmsProp.GradientAverage), 1e-12, 1e-14, "grad_avg");
        if (c.Momentum != 0) Tolerance.AllClose(state.MomentumBuffer, rmsProp.Backend.ToArray(rmsProp.MomentumBuffer), 1e-12, 1e-14, "momentum_buffer");
    }

    public static TheoryData<int> TorchCases() => [.. Enumerable.Range(0, s_torch.CaseCount)];

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_trajectory_equals_pytorchs(int index)
    {
        // Tolerance: float64 against float64, the same operations in the same order up to the fused kernel's rounding
        // (a·b + c evaluated in one expression): rtol 1e-13, atol 1e-15 over 8 steps.
        var c = s_torch.Case(index);
        Assert.StartsWith("1.13", s_torch.TorchVersion);
        using var model = new TestModel<double>(TestDevices.Reference, s_torch.Sizes);
        using var rmsProp = new RmsProp<double>(model.Backend, model.Parameters, Options(Settings(c)));
        s_torch.Check(model, rmsProp, c, 1e-13, 1e-15, $"case {index}");

        // The reference written apart follows torch too (so the float32 parity tests below measure against PyTorch's algorithm).
        var theta = s_torch.Theta0;
        var state = new RmsPropReference.State(theta.Length);
        for (int step = 0; step < s_torch.Steps; step++)
        {
            var g = s_torch.Gradient(step);
            RmsPropReference.Step(theta, g, state, Settings(c), Reference.Clip(g, TorchOptimizerFixture.Clip(c)).Scale);
        }
        Tolerance.AllClose(TorchOptimizerFixture.Theta(c, s_torch.Steps - 1), theta, 1e-13, 1e-15, $"reference, case {index}");
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
        // Tolerance: 8 float32 steps of up to lr/√(1−α) ≈ 0.1–0.2 on θ ~ 0.5 (torch's float64 values rounded once to
        // float32 at the start): rtol 1e-5, atol 2e-6.
        var backend = TestDevices.Get(device);
        var c = s_torch.Case(index);
        using var model = new TestModel<float>(backend, s_torch.Sizes);
        using var rmsProp = new RmsProp<float>(backend, model.Parameters, Options(Settings(c)));
        s_torch.Check(model, rmsProp, c, 1e-5, 2e-6, $"case {index} on {device}");
    }

    public static TheoryData<string, int, int> Float32Cases() => OptimizerTestCases.DevicesSizesConfigs(0, 1, 2, 3);

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_matches_the_float64_reference(string device, int n, int config)
    {
        // Tolerance: 4 float32 steps of up to lr/√(1−α) on θ ~ 1: rtol 1e-5, atol 1e-6 (v: rtol 1e-5, atol 1e-9).
        var backend = TestDevices.Get(device);
        var c = s_configs[config];
        using var model = new TestModel<float>(backend, n);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: n));
        var state = new RmsPropReference.State(n);
        model.SetValues(theta);
        using var rmsProp = new RmsProp<float>(backend, model.Parameters, Options(c));
        using var clipper = new GradientClipper<float>(backend, model.Parameters, rmsProp.Control);
        for (int step = 0; step < 4; step++)
        {
            var g = TestModel<float>.Rounded(Tolerance.Random(n, seed: 7 * n + step, lo: -3, hi: 3));
            model.SetGradients(g);
            clipper.Clip(maxNorm: 2.0);
            RmsPropReference.Step(theta, g, state, c, Reference.Clip(g, 2.0).Scale);
            rmsProp.Step();
        }
        Tolerance.AllClose(theta, model.RawValues(), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(state.SquareAverage, backend.ToArray(rmsProp.SquareAverage), 1e-5, 1e-9, $"square_avg on {device}");
        if (c.Momentum != 0) Tolerance.AllClose(state.MomentumBuffer, backend.ToArray(rmsProp.MomentumBuffer), 1e-5, 1e-5, $"momentum_buffer on {device}");
    }

    [Fact]
    public void A_skipped_step_changes_nothing_and_state_is_named_like_pytorch()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 4, 2);
        model.SetValues(Tolerance.Random(6, seed: 4));
        using var rmsProp = new RmsProp<double>(model.Backend, model.Parameters, new RmsPropOptions { Momentum = 0.9, Centered = true });
        Assert.Equal(["grad_avg.p0", "grad_avg.p1", "momentum_buffer.p0", "momentum_buffer.p1", "square_avg.p0", "square_avg.p1"],
            rmsProp.SaveState().Tensors.Keys.Order());
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, rmsProp.Control);
        model.SetGradients(Tolerance.Random(6, seed: 5));
        clipper.Clip(1.0);
        rmsProp.Step();
        var before = rmsProp.SaveState();
        var theta = model.Values();
        var g = Tolerance.Random(6, seed: 6);
        g[3] = double.PositiveInfinity;
        model.SetGradients(g);
        clipper.Clip(1.0);
        rmsProp.Step();
        Assert.Equal(theta, model.Values());
        foreach (var (name, values) in before.Tensors) Assert.Equal(values, rmsProp.SaveState().Tensors[name]);
        Assert.Equal(1, rmsProp.Control.ReadSkippedSteps());
        Assert.Equal(1, rmsProp.Control.ReadStepCount());
        using var plain = new RmsProp<double>(model.Backend, model.Parameters);
        Assert.Equal(["square_avg.p0", "square_avg.p1"], plain.SaveState().Tensors.Keys.Order());
    }

    [Fact]
    public void Bad_options_are_rejected_by_name()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 2);
        Assert.Equal("Alpha", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<double>(model.Backend, model.Parameters, new RmsPropOptions { Alpha = 1.5 })).ParamName);
        Assert.Equal("Momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<double>(model.Backend, model.Parameters, new RmsPropOptions { Momentum = -0.1 })).ParamName);
        Assert.Equal("Epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<double>(model.Backend, model.Parameters, new RmsPropOptions { Epsilon = double.NaN })).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<double>(model.Backend, model.Parameters,
            new RmsPropOptions { Groups = [new ParameterGroup("a", ["p0"]) { WeightDecay = -1 }] }));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Kernel_rejects_mismatched_buffers_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(8);
        using var b = backend.Allocate<float>(7);
        using var control = backend.Allocate<float>(StepControl.Length);
        var settings = new RmsPropSettings(0.1);
        Assert.Equal("squareAverage", Assert.Throws<ArgumentException>(() => backend.RmsPropStep(a.View, a.View, b.View, default, default, settings, control.View)).ParamName);
        Assert.Equal("gradientAverage", Assert.Throws<ArgumentException>(() => backend.RmsPropStep(a.View, a.View, a.View, default, default, settings with { Centered = true }, control.View)).ParamName);
        Assert.Equal("momentumBuffer", Assert.Throws<ArgumentException>(() => backend.RmsPropStep(a.View, a.View, a.View, default, b.View, settings with { Momentum = 0.9 }, control.View)).ParamName);
        Assert.Equal("control", Assert.Throws<ArgumentException>(() => backend.RmsPropStep(a.View, a.View, a.View, default, default, settings, a.Slice(0, 4))).ParamName);
    }

    [Fact]
    public void A_small_cpu_step_allocates_nothing()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        using var model = new TestModel<float>(backend, 100, 30, 7);
        model.SetValues(Tolerance.Random(137, 1));
        model.SetGradients(Tolerance.Random(137, 2));
        var head = new ParameterGroup("head", ["p2"]) { LearningRate = 0.1 };
        using var rmsProp = new RmsProp<float>(backend, model.Parameters, new RmsPropOptions { Momentum = 0.9, Centered = true, Groups = [head], Schedule = new CosineSchedule(100) { WarmupSteps = 3 } });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, rmsProp.Control);
        OptimizerTestCases.AssertAllocatesNothingOnceWarm(() =>
        {
            clipper.Clip(1.0);
            rmsProp.Step();
        });
    }
}
