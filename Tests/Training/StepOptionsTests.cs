using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// <see cref="StepOptions"/> that reach the optimizer or are refused in combination: one step against a hand-written
/// float64 update on the <see cref="ReferenceNet"/> gradients, and the validation messages.
/// </summary>
public class StepOptionsTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    [Fact]
    public void Adam_without_bias_correction_takes_the_textbook_uncorrected_first_step()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 13);
        var reference = new ReferenceNet(model);
        var theta = Tolerance.ToDouble(Cpu.ToArray(model.Parameters.Values));
        using var device = DeviceDataset.Upload(model, data);
        const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        using var step = new TrainingStep(model, new StepOptions { LearningRate = lr, BiasCorrection = false }, Rows);
        step.Run(device, 0, Rows);

        var (_, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        var g = new double[theta.Length];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += (t == 0 ? 1.0 : 0.5) * flat[i]; // static weights λ = (1, 0.5)
        }
        // From m = v = 0: m = (1 − β₁)g, v = (1 − β₂)g², θ ← θ − lr·m/(√v + ε) with no division by 1 − βᵗ.
        // For |g| ≫ ε this moves θ by lr·0.1/√0.001 ≈ 3.16·lr, not the corrected lr: the two cannot be confused.
        var expected = new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            double m = (1 - b1) * g[i], v = (1 - b2) * g[i] * g[i];
            expected[i] = theta[i] - lr * m / (Math.Sqrt(v) + eps);
        }
        Tolerance.AllClose(expected, Tolerance.ToDouble(Cpu.ToArray(model.Parameters.Values)), 0, 2e-5, "uncorrected Adam step");
        Assert.True(expected.Zip(theta, (a, b) => Math.Abs(a - b)).Max() > 2 * lr, "the step must be larger than a corrected one");
    }

    [Fact]
    public void Accuracy_weighting_without_tracked_metrics_is_refused_naming_both_options()
    {
        var spec = new ModelSpec(5, [8], [new TaskHead("a", Engine.Data.TaskKind.Classification, 3), new TaskHead("b", Engine.Data.TaskKind.Classification, 2)]);
        using var model = MultiTaskModel.Create(spec, Cpu);
        var e = Assert.Throws<ArgumentException>(() =>
            new TrainingStep(model, new StepOptions { Weighting = WeightingMethod.Accuracy, TrackMetrics = false }, Rows));
        Assert.Contains("Weighting = Accuracy", e.Message);
        Assert.Contains("TrackMetrics", e.Message);
        using var ok = new TrainingStep(model, new StepOptions { Weighting = WeightingMethod.Accuracy }, Rows); // tracked: accepted
    }
}
