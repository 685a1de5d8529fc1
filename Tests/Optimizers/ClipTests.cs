using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Global-norm clipping folded into the optimizer step, and the non-finite guard.</summary>
public class ClipTests
{
    /// <summary>SGD with lr = 1 from θ = 0 makes θ = −(scaled gradient): the scaled gradient made visible.</summary>
    private static Sgd<T> Probe<T>(TestModel<T> model) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        model.SetValues(new double[model.Count]);
        return new Sgd<T>(model.Backend, model.Parameters, new SgdOptions { LearningRate = 1 });
    }

    [Fact]
    public void Float64_norm_and_scaled_gradients_match_the_reference()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 17, 1, 40);
        var g = Tolerance.Random(58, seed: 9, lo: -2, hi: 2);
        model.SetGradients(g);
        using var sgd = Probe(model);
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, sgd.Control);
        var normView = clipper.Clip(maxNorm: 1.5);
        sgd.Step();
        var (norm, scale) = Reference.Clip(g, 1.5);
        Assert.True(scale < 0.5, "the test must actually clip");
        Tolerance.AllClose([norm], model.Backend.ToArray(normView), 1e-14, 0, "norm");
        Tolerance.AllClose([scale], [sgd.Control.ReadScale()], 1e-14, 0, "scale");
        Tolerance.AllClose(Array.ConvertAll(g, x => -x * scale), model.Values(), 1e-14, 0, "scaled g");
    }

    public static TheoryData<string, int> Float32Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32)
            foreach (int n in new[] { 1, 7, 33, 257, 1000, 9000 })
                data.Add(device.Data, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_norm_and_scaled_gradients_match_float64(string device, int n)
    {
        // Tolerance: a float32 sum of n squares, rtol 1e-5 on the norm and the scaled gradients.
        var backend = TestDevices.Get(device);
        using var model = new TestModel<float>(backend, n);
        var g = TestModel<float>.Rounded(Tolerance.Random(n, seed: n, lo: -2, hi: 2));
        model.SetGradients(g);
        using var sgd = Probe(model);
        using var clipper = new GradientClipper<float>(backend, model.Parameters, sgd.Control);
        var normView = clipper.Clip(maxNorm: 0.5);
        sgd.Step();
        var (norm, scale) = Reference.Clip(g, 0.5);
        Tolerance.AllClose([norm], backend.ToArray(normView), 1e-5, 0, $"norm on {device}");
        Tolerance.AllClose(Array.ConvertAll(g, x => -x * scale), model.RawValues(), 1e-5, 1e-7, $"scaled g on {device}");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Below_the_threshold_the_scale_is_exactly_one_and_gradients_are_untouched(string device)
    {
        var backend = TestDevices.Get(device);
        using var model = new TestModel<float>(backend, 33);
        var g = TestModel<float>.Rounded(Tolerance.Random(33, seed: 5, lo: -0.1, hi: 0.1));
        model.SetGradients(g);
        using var sgd = Probe(model);
        using var clipper = new GradientClipper<float>(backend, model.Parameters, sgd.Control);
        clipper.Clip(maxNorm: 10);
        sgd.Step();
        Assert.Equal(1.0, sgd.Control.ReadScale());
        Assert.Equal(Array.ConvertAll(g, x => -(float)x), model.RawValues()); // bit for bit: θ = 0 − 1·g
    }

    public static TheoryData<string, double> NonFiniteCases()
    {
        var data = new TheoryData<string, double>();
        foreach (var device in TestDevices.Float32)
            foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
                data.Add(device.Data, bad);
        return data;
    }

    [Theory]
    [MemberData(nameof(NonFiniteCases))]
    public void A_non_finite_gradient_skips_the_step_and_is_reported(string device, double bad)
    {
        var backend = TestDevices.Get(device);
        using var model = new TestModel<float>(backend, 5, 9);
        var theta = TestModel<float>.Rounded(Tolerance.Random(14, seed: 1));
        model.SetValues(theta);
        using var adam = new Adam<float>(backend, model.Parameters, new AdamOptions { LearningRate = 0.1, AmsGrad = true });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, adam.Control);
        var g = TestModel<float>.Rounded(Tolerance.Random(14, seed: 2));
        g[7] = bad;
        model.SetGradients(g);
        var before = model.RawValues();
        clipper.Clip(1.0);
        adam.Step();
        Assert.Equal(before, model.RawValues());
        Assert.All(backend.ToArray(adam.FirstMoment), m => Assert.Equal(0f, m));
        Assert.All(backend.ToArray(adam.SecondMoment), v => Assert.Equal(0f, v));
        Assert.True(adam.Control.ReadSkipped());
        Assert.False(double.IsFinite(adam.Control.ReadNorm()));
        Assert.Equal(0, adam.Control.ReadStepCount());
        Assert.Equal(1, adam.Control.ReadSkippedSteps());
        Assert.False(double.IsFinite(clipper.ReadParameterNorms()["p1"]));
        Assert.True(double.IsFinite(clipper.ReadParameterNorms()["p0"]));

        // The next finite step is step t = 1: the same as a fresh optimizer's first step.
        g[7] = 0.25;
        model.SetGradients(g);
        clipper.Clip(1.0);
        adam.Step();
        var state = new Reference.AdamState(14);
        Reference.AdamStep(theta, g, state, new(Lr: 0.1, AmsGrad: true), Reference.Clip(g, 1.0).Scale);
        Assert.Equal(1, adam.Control.ReadStepCount());
        Tolerance.AllClose(theta, model.RawValues(), 1e-5, 1e-6, "θ after the next step");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Throw_mode_raises_and_leaves_parameters_unchanged(string device)
    {
        var backend = TestDevices.Get(device);
        using var model = new TestModel<float>(backend, 8);
        model.SetValues(Tolerance.Random(8, seed: 1));
        var g = Tolerance.Random(8, seed: 2);
        g[3] = double.PositiveInfinity;
        model.SetGradients(g);
        using var sgd = new Sgd<float>(backend, model.Parameters, new SgdOptions { LearningRate = 0.1, Momentum = 0.9 });
        using var clipper = new GradientClipper<float>(backend, model.Parameters, sgd.Control, NonFiniteGradients.Throw);
        var before = model.RawValues();
        var error = Assert.Throws<NonFiniteGradientException>(() => clipper.Clip(1.0));
        Assert.True(double.IsPositiveInfinity(error.Norm));
        Assert.Contains("skipped", error.Message);
        sgd.Step(); // a caller that catches and steps anyway still changes nothing
        Assert.Equal(before, model.RawValues());
        Assert.Equal(0, sgd.Control.ReadStepCount());
    }

    [Fact]
    public void Without_a_clipper_each_step_is_counted_and_no_norm_is_measured()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 3);
        model.SetGradients([1, 2, 3]);
        using var sgd = new Sgd<double>(model.Backend, model.Parameters, new SgdOptions { LearningRate = 0.1 });
        sgd.Step();
        sgd.Step();
        Assert.Equal(2, sgd.Control.ReadStepCount());
        Assert.Equal(1.0, sgd.Control.ReadScale());
        Assert.True(double.IsNaN(sgd.Control.ReadNorm()));
    }

    [Fact]
    public void Clipping_twice_without_a_step_and_bad_max_norms_are_rejected()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 3);
        model.SetGradients([1, 2, 3]);
        using var sgd = new Sgd<double>(model.Backend, model.Parameters);
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, sgd.Control);
        Assert.Throws<ArgumentOutOfRangeException>(() => clipper.Clip(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => clipper.Clip(double.NaN));
        clipper.Clip(1);
        var error = Assert.Throws<InvalidOperationException>(() => clipper.Clip(1));
        Assert.Contains("Step()", error.Message);
        var kernel = Assert.Throws<ArgumentOutOfRangeException>(() => model.Backend.UpdateStepControl(clipper.SumsOfSquares, -1, sgd.Control.View));
        Assert.Equal("maxNorm", kernel.ParamName);
    }
}
