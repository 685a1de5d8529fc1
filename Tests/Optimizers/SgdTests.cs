using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>SGD with momentum, dampening, Nesterov and weight decay against hand-derived steps and a float64 reference.</summary>
public class SgdTests
{
    private static readonly Reference.SgdConfig[] s_configs =
    [
        new(),                                    // plain
        new(Momentum: 0.9),                       // heavy ball
        new(Momentum: 0.9, Dampening: 0.5),       // dampened
        new(Momentum: 0.8, Nesterov: true),       // Nesterov
        new(Momentum: 0.9, Wd: 0.1, Nesterov: true),
        new(Wd: 0.2),
    ];

    private static SgdOptions Options(Reference.SgdConfig c) => new()
    {
        LearningRate = c.Lr, Momentum = c.Momentum, Dampening = c.Dampening, WeightDecay = c.Wd, Nesterov = c.Nesterov,
    };

    [Fact]
    public void Momentum_dampening_and_Nesterov_follow_the_hand_derived_steps()
    {
        // g = 1 on every step, lr = 0.1, μ = 0.9:
        //   heavy ball:       buf 1, 1.9      → θ: −0.1, −0.29
        //   dampening 0.5:    buf 1, 0.9+0.5  → θ: −0.1, −0.24 (the first step is not dampened)
        //   Nesterov:         buf 1, 1.9; d = 1 + 0.9·buf = 1.9, 2.71 → θ: −0.19, −0.461
        (SgdOptions Options, double[] Expected)[] cases =
        [
            (new SgdOptions { LearningRate = 0.1, Momentum = 0.9 }, [-0.1, -0.29]),
            (new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Dampening = 0.5 }, [-0.1, -0.24]),
            (new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Nesterov = true }, [-0.19, -0.461]),
        ];
        foreach (var (options, expected) in cases)
        {
            using var model = new TestModel<double>(TestDevices.Reference, 1);
            model.SetValues([0]);
            model.SetGradients([1]);
            using var sgd = new Sgd<double>(model.Backend, model.Parameters, options);
            sgd.Step();
            Tolerance.AllClose([expected[0]], model.Values(), 1e-15, 1e-16, "θ after step 1");
            sgd.Step();
            Tolerance.AllClose([expected[1]], model.Values(), 1e-15, 1e-16, "θ after step 2");
        }
    }

    [Fact]
    public void Weight_decay_adds_lambda_theta_to_the_gradient()
    {
        // θ₁ = θ₀ − lr(g + λθ₀) = 2 − 0.1(0.5 + 0.1·2) = 1.93
        using var model = new TestModel<double>(TestDevices.Reference, 1);
        model.SetValues([2]);
        model.SetGradients([0.5]);
        using var sgd = new Sgd<double>(model.Backend, model.Parameters, new SgdOptions { LearningRate = 0.1, WeightDecay = 0.1 });
        sgd.Step();
        Tolerance.AllClose([1.93], model.Values(), 1e-15, 0, "θ");
    }

    public static TheoryData<int> Configs() => [.. Enumerable.Range(0, s_configs.Length)];

    [Theory]
    [MemberData(nameof(Configs))]
    public void Float64_trajectory_matches_the_reference(int config)
    {
        var c = s_configs[config];
        var theta = Tolerance.Random(30, seed: 4);
        var buffer = new double[30];
        bool started = false;
        using var model = new TestModel<double>(TestDevices.Reference, 10, 20);
        model.SetValues(theta);
        using var sgd = new Sgd<double>(model.Backend, model.Parameters, Options(c));
        for (int step = 0; step < 5; step++)
        {
            var g = Tolerance.Random(30, seed: 40 + step);
            model.SetGradients(g);
            Reference.SgdStep(theta, g, buffer, ref started, c);
            sgd.Step();
        }
        Tolerance.AllClose(theta, model.Values(), 1e-13, 1e-15, "θ");
    }

    public static TheoryData<string, int, int> Float32Cases() => OptimizerTestCases.DevicesSizesConfigs(0, 2, 4);

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_matches_the_float64_reference(string device, int n, int config)
    {
        // Tolerance: 4 float32 steps of size ~lr·|g| ≤ 0.3 on θ ~ 1: rtol 1e-5, atol 1e-6.
        var backend = TestDevices.Get(device);
        var c = s_configs[config];
        using var model = new TestModel<float>(backend, n);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: n));
        var buffer = new double[n];
        bool started = false;
        model.SetValues(theta);
        using var sgd = new Sgd<float>(backend, model.Parameters, Options(c));
        for (int step = 0; step < 4; step++)
        {
            var g = TestModel<float>.Rounded(Tolerance.Random(n, seed: 3 * n + step));
            model.SetGradients(g);
            Reference.SgdStep(theta, g, buffer, ref started, c);
            sgd.Step();
        }
        Tolerance.AllClose(theta, model.RawValues(), 1e-5, 1e-6, $"θ on {device}");
    }

    [Fact]
    public void Nesterov_without_momentum_is_rejected()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 2);
        var error = Assert.Throws<ArgumentException>(() => new Sgd<double>(model.Backend, model.Parameters, new SgdOptions { Nesterov = true }));
        Assert.Contains("Nesterov", error.Message);
        Assert.Throws<ArgumentException>(() => new Sgd<double>(model.Backend, model.Parameters, new SgdOptions { Nesterov = true, Momentum = 0.9, Dampening = 0.1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<double>(model.Backend, model.Parameters, new SgdOptions { Momentum = -0.1 }));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Kernel_rejects_a_missing_momentum_buffer(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(8);
        using var control = backend.Allocate<float>(StepControl.Length);
        var error = Assert.Throws<ArgumentException>(() => backend.SgdStep(a.View, a.View, default, new SgdSettings(0.1, Momentum: 0.9), control.View));
        Assert.Equal("momentumBuffer", error.ParamName);
    }
}
