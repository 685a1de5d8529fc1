using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Adam / AdamW / AMSGrad against hand-derived steps and an unfused float64 reference.</summary>
public class AdamTests
{
    private static readonly Reference.AdamConfig[] s_configs =
    [
        new(),                                              // plain Adam
        new(Wd: 0.1),                                       // L2 decay
        new(Wd: 0.1, Decoupled: true),                      // AdamW
        new(AmsGrad: true, Wd: 0.05, Decoupled: true),      // AMSGrad + AdamW
        new(BiasCorrection: false, Beta1: 0.8, Beta2: 0.99), // seed formula
        new(AmsGrad: true, BiasCorrection: false, Wd: 0.2), // AMSGrad + L2, uncorrected
    ];

    private static AdamOptions Options(Reference.AdamConfig c) => new()
    {
        LearningRate = c.Lr, Beta1 = c.Beta1, Beta2 = c.Beta2, Epsilon = c.Eps, WeightDecay = c.Wd,
        Decoupled = c.Decoupled, AmsGrad = c.AmsGrad, BiasCorrection = c.BiasCorrection,
    };

    [Fact]
    public void First_bias_corrected_step_moves_by_lr_times_g_over_abs_g_plus_eps()
    {
        // t = 1: m̂ = g, v̂ = g², so Δθ = −lr·g/(|g| + ε) — about −lr·sign(g).
        using var model = new TestModel<double>(TestDevices.Reference, 3);
        model.SetValues([1, -2, 0.5]);
        model.SetGradients([0.3, -4, 1e-9]);
        using var adam = new Adam<double>(model.Backend, model.Parameters, new AdamOptions { LearningRate = 0.1 });
        adam.Step();
        double[] expected = [1 - 0.1 * 0.3 / (0.3 + 1e-8), -2 + 0.1 * 4 / (4 + 1e-8), 0.5 - 0.1 * 1e-9 / (1e-9 + 1e-8)];
        Tolerance.AllClose(expected, model.Values(), 1e-14, 1e-15, "θ");
    }

    [Fact]
    public void Without_bias_correction_the_first_step_is_the_seed_formula()
    {
        // m = (1−β₁)g, v = (1−β₂)g², Δθ = −lr·(1−β₁)g/(√(1−β₂)|g| + ε): a step of about lr·0.1/0.0316 = 3.16·lr.
        using var model = new TestModel<double>(TestDevices.Reference, 2);
        model.SetValues([1, 1]);
        model.SetGradients([2, -0.5]);
        using var adam = new Adam<double>(model.Backend, model.Parameters, new AdamOptions { LearningRate = 0.01, BiasCorrection = false });
        adam.Step();
        double[] expected = [1 - 0.01 * 0.1 * 2 / (Math.Sqrt(0.001) * 2 + 1e-8), 1 + 0.01 * 0.1 * 0.5 / (Math.Sqrt(0.001) * 0.5 + 1e-8)];
        Tolerance.AllClose(expected, model.Values(), 1e-14, 1e-15, "θ");
    }

    [Fact]
    public void Decoupled_decay_shrinks_theta_while_L2_decay_goes_through_the_moments()
    {
        // With g = 0: AdamW leaves m = v = 0, so θ₁ = θ₀(1 − lr·λ) exactly;
        // Adam with L2 sees g = λθ, so its first step is −lr·λθ/(λ|θ| + ε) ≈ −lr·sign(θ).
        double lr = 0.01, wd = 0.5;
        using var w = new TestModel<double>(TestDevices.Reference, 2);
        w.SetValues([2, -3]);
        w.SetGradients([0, 0]);
        using var adamW = new Adam<double>(w.Backend, w.Parameters, new AdamOptions { LearningRate = lr, WeightDecay = wd, Decoupled = true });
        adamW.Step();
        Tolerance.AllClose([2 * (1 - lr * wd), -3 * (1 - lr * wd)], w.Values(), 1e-15, 0, "AdamW θ");

        using var l2 = new TestModel<double>(TestDevices.Reference, 2);
        l2.SetValues([2, -3]);
        l2.SetGradients([0, 0]);
        using var adam = new Adam<double>(l2.Backend, l2.Parameters, new AdamOptions { LearningRate = lr, WeightDecay = wd });
        adam.Step();
        Tolerance.AllClose([2 - lr * wd * 2 / (wd * 2 + 1e-8), -3 + lr * wd * 3 / (wd * 3 + 1e-8)], l2.Values(), 1e-14, 0, "Adam L2 θ");
    }

    [Fact]
    public void AmsGrad_keeps_the_largest_second_moment_after_a_gradient_spike()
    {
        // Step 1 with |g| = 10, step 2 with |g| = 0.1: v falls, vMax stays at step 1's v = (1−β₂)·100.
        var c = new Reference.AdamConfig(Lr: 0.1, AmsGrad: true, BiasCorrection: false);
        using var model = new TestModel<double>(TestDevices.Reference, 1);
        model.SetValues([0]);
        using var adam = new Adam<double>(model.Backend, model.Parameters, Options(c));
        model.SetGradients([10]);
        adam.Step();
        model.SetGradients([0.1]);
        adam.Step();
        double m1 = 0.1 * 10, v1 = 0.001 * 100;
        double theta1 = -0.1 * m1 / (Math.Sqrt(v1) + 1e-8);
        double m2 = 0.9 * m1 + 0.1 * 0.1, v2 = 0.999 * v1 + 0.001 * 0.01;
        double theta2 = theta1 - 0.1 * m2 / (Math.Sqrt(Math.Max(v1, v2)) + 1e-8);
        Assert.True(v2 < v1);
        Tolerance.AllClose([theta2], model.Values(), 1e-14, 1e-15, "θ");
        Tolerance.AllClose([Math.Max(v1, v2)], adam.Backend.ToArray(adam.MaxSecondMoment), 1e-14, 0, "vMax");
    }

    public static TheoryData<int> Configs() => [.. Enumerable.Range(0, s_configs.Length)];

    [Theory]
    [MemberData(nameof(Configs))]
    public void Float64_trajectory_with_clipping_matches_the_unfused_reference(int config)
    {
        var c = s_configs[config];
        var theta = Tolerance.Random(40, seed: 1);
        var state = new Reference.AdamState(40);
        using var model = new TestModel<double>(TestDevices.Reference, 13, 1, 26);
        model.SetValues(theta);
        using var adam = new Adam<double>(model.Backend, model.Parameters, Options(c));
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, adam.Control);
        for (int step = 0; step < 6; step++)
        {
            var g = Tolerance.Random(40, seed: 100 + step, lo: -2, hi: 2);
            model.SetGradients(g);
            clipper.Clip(maxNorm: step % 2 == 0 ? 3.0 : double.PositiveInfinity);
            Reference.AdamStep(theta, g, state, c, step % 2 == 0 ? Reference.Clip(g, 3.0).Scale : 1);
            adam.Step();
        }
        Tolerance.AllClose(theta, model.Values(), 1e-12, 1e-14, "θ");
        Tolerance.AllClose(state.M, adam.Backend.ToArray(adam.FirstMoment), 1e-12, 1e-14, "m");
        Tolerance.AllClose(state.V, adam.Backend.ToArray(adam.SecondMoment), 1e-12, 1e-14, "v");
        Assert.Equal(6, adam.Control.ReadStepCount());
    }

    public static TheoryData<string, int, int> Float32Cases() => OptimizerTestCases.DevicesSizesConfigs(0, 2, 3, 5);

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_matches_the_float64_reference(string device, int n, int config)
    {
        // Tolerance: 4 steps of float32 arithmetic on θ ~ 1 with lr = 1e-2: rtol 1e-5, atol 1e-6.
        var backend = TestDevices.Get(device);
        var c = s_configs[config];
        using var model = new TestModel<float>(backend, n);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: n));
        var state = new Reference.AdamState(n);
        model.SetValues(theta);
        using var adam = new Adam<float>(backend, model.Parameters, Options(c));
        using var clipper = new GradientClipper<float>(backend, model.Parameters, adam.Control);
        for (int step = 0; step < 4; step++)
        {
            var g = TestModel<float>.Rounded(Tolerance.Random(n, seed: 7 * n + step, lo: -3, hi: 3));
            model.SetGradients(g);
            clipper.Clip(maxNorm: 2.0);
            Reference.AdamStep(theta, g, state, c, Reference.Clip(g, 2.0).Scale);
            adam.Step();
        }
        Tolerance.AllClose(theta, model.RawValues(), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(state.V, backend.ToArray(adam.SecondMoment), 1e-4, 1e-9, $"v on {device}");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Parameter_groups_use_their_own_learning_rate_and_decay(string device)
    {
        var backend = TestDevices.Get(device);
        using var model = new TestModel<float>(backend, 5, 3, 4); // p0 default; p1, p2 = the head (adjacent: one launch)
        var theta = TestModel<float>.Rounded(Tolerance.Random(12, seed: 3));
        model.SetValues(theta);
        var head = new ParameterGroup("head", ["p1", "p2"]) { LearningRate = 0.1, WeightDecay = 0.3 };
        using var adam = new Adam<float>(backend, model.Parameters, new AdamOptions { LearningRate = 0.01, Groups = [head], Decoupled = true });
        Assert.Equal(["default", "head"], adam.Groups.Select(g => g.Name));
        Assert.Equal([(5, 7)], adam.Groups[1].Ranges);
        Assert.Equal(0.1, adam.CurrentLearningRate(1));

        var trunk = theta[..5];
        var headTheta = theta[5..];
        var (s0, s1) = (new Reference.AdamState(5), new Reference.AdamState(7));
        for (int step = 0; step < 3; step++)
        {
            var g = TestModel<float>.Rounded(Tolerance.Random(12, seed: 50 + step));
            model.SetGradients(g);
            Reference.AdamStep(trunk, g[..5], s0, new(Lr: 0.01, Decoupled: true));
            Reference.AdamStep(headTheta, g[5..], s1, new(Lr: 0.1, Wd: 0.3, Decoupled: true));
            adam.Step();
        }
        Tolerance.AllClose([.. trunk, .. headTheta], model.RawValues(), 1e-5, 1e-6, "θ");
    }

    [Fact]
    public void Bad_groups_and_options_are_rejected_with_clear_messages()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 2, 2);
        var unknown = Assert.Throws<ArgumentException>(() => new Adam<double>(model.Backend, model.Parameters,
            new AdamOptions { Groups = [new ParameterGroup("head", ["nope"])] }));
        Assert.Contains("'nope'", unknown.Message);
        var twice = Assert.Throws<ArgumentException>(() => new Adam<double>(model.Backend, model.Parameters,
            new AdamOptions { Groups = [new ParameterGroup("a", ["p0"]), new ParameterGroup("b", ["p0"])] }));
        Assert.Contains("more than one parameter group", twice.Message);
        var beta = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<double>(model.Backend, model.Parameters, new AdamOptions { Beta2 = 1 }));
        Assert.Equal("Beta2", beta.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<double>(model.Backend, model.Parameters,
            new AdamOptions { Groups = [new ParameterGroup("a", ["p0"]) { LearningRate = -1 }] }));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Kernel_rejects_mismatched_buffers_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(8);
        using var b = backend.Allocate<float>(7);
        using var control = backend.Allocate<float>(StepControl.Length);
        var settings = new AdamSettings(0.1);
        var m = Assert.Throws<ArgumentException>(() => backend.AdamStep(a.View, a.View, b.View, a.View, default, settings, control.View));
        Assert.Equal("m", m.ParamName);
        var vMax = Assert.Throws<ArgumentException>(() => backend.AdamStep(a.View, a.View, a.View, a.View, default, settings with { AmsGrad = true }, control.View));
        Assert.Equal("vMax", vMax.ParamName);
        var c = Assert.Throws<ArgumentException>(() => backend.AdamStep(a.View, a.View, a.View, a.View, default, settings, a.Slice(0, 4)));
        Assert.Equal("control", c.ParamName);
        var g = Assert.Throws<ArgumentException>(() => backend.AdamStep(a.View, b.View, a.View, a.View, default, settings, control.View));
        Assert.Equal("gradients", g.ParamName);
    }

    [Fact]
    public void A_small_cpu_step_allocates_nothing()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        using var model = new TestModel<float>(backend, 100, 30, 7);
        model.SetValues(Tolerance.Random(137, 1));
        model.SetGradients(Tolerance.Random(137, 2));
        var head = new ParameterGroup("head", ["p2"]) { LearningRate = 0.1 };
        using var adam = new Adam<float>(backend, model.Parameters, new AdamOptions { AmsGrad = true, Groups = [head], Schedule = new CosineSchedule(100) { WarmupSteps = 3 } });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, adam.Control);
        OptimizerTestCases.AssertAllocatesNothingOnceWarm(() =>
        {
            clipper.Clip(1.0);
            adam.Step();
        });
    }
}
