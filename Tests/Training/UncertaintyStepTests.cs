using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Uncertainty weighting inside a <see cref="TrainingStep"/>: the log-variances sᵢ live outside the model with their own
/// optimizer, but share the model's global norm, clipping scale and non-finite skip. References: the float64
/// <see cref="ReferenceNet"/> gradients, and ∂L/∂sᵢ = 1 − exp(−sᵢ)Lᵢ (= 1 − Lᵢ at sᵢ = 0) by hand.
/// </summary>
public class UncertaintyStepTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    private static float[] LogVariances(TrainingStep step) =>
        Cpu.ToArray(Assert.IsType<UncertaintyWeighting<float>>(step.Weighting).LogVariances);

    [Fact]
    public void Clipped_sgd_step_scales_the_log_variance_gradient_by_the_global_norm_that_includes_it()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 11);
        var reference = new ReferenceNet(model);
        var theta = Tolerance.ToDouble(Cpu.ToArray(model.Parameters.Values));
        using var device = DeviceDataset.Upload(model, data);
        const double lr = 0.1, c = 0.05;
        using var step = new TrainingStep(model, new StepOptions
        {
            Weighting = WeightingMethod.Uncertainty, Optimizer = OptimizerKind.Sgd, LearningRate = lr, MaxGradNorm = c,
        }, Rows);
        step.Run(device, 0, Rows);

        // At s = 0 every weight is exp(0) = 1: g = ∇L₀ + ∇L₁ for the model, gₛᵢ = 1 − Lᵢ for the log-variances.
        var (losses, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        var g = new double[theta.Length];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += flat[i];
        }
        double[] gs = [1 - losses[0], 1 - losses[1]];
        double norm = Math.Sqrt(g.Sum(v => v * v) + gs.Sum(v => v * v));
        double scale = Math.Min(1, c / (norm + 1e-6));
        Assert.True(scale < 0.5, "the test needs clipping to bite");

        var s = LogVariances(step);
        for (int t = 0; t < 2; t++) Assert.Equal(-lr * scale * gs[t], s[t], 1e-6);
        for (int i = 0; i < theta.Length; i++) theta[i] -= lr * scale * g[i];
        Tolerance.AllClose(theta, Tolerance.ToDouble(Cpu.ToArray(model.Parameters.Values)), 0, 1e-6, "parameters after the clipped step");
        var statistics = step.ReadStatistics();
        Assert.Equal(norm, statistics.GradientNorm, 1e-5 * norm);
        Assert.Equal(0, statistics.SkippedSteps);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void Non_finite_loss_skips_the_step_for_the_model_and_the_log_variances(OptimizerKind optimizer)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 12);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions
        {
            Weighting = WeightingMethod.Uncertainty, Optimizer = optimizer, LearningRate = 0.01, MaxGradNorm = 1.0,
        }, Rows);
        step.Run(device, 0, Rows); // one good step: s ≠ 0 afterwards, so "unchanged" is not "still at the initial value"
        var sBefore = LogVariances(step);
        Assert.All(sBefore, v => Assert.NotEqual(0f, v));

        // A NaN weight in the regression head makes L₀ NaN, hence ∂L/∂s₀ = 1 − exp(−s₀)L₀ and the global norm NaN.
        var headWeight = model.Parameters.ValuesOf(model.Heads[0].WeightSlot);
        var w = Cpu.ToArray(headWeight);
        w[0] = float.NaN;
        Cpu.Upload<float>(w, headWeight);
        var thetaBefore = Cpu.ToArray(model.Parameters.Values);
        step.ResetStatistics();
        step.Run(device, 0, Rows);

        Assert.True(float.IsNaN(Cpu.ToArray(step.TaskLosses)[0]), "the test needs a NaN loss");
        Assert.Equal(BitsOf(thetaBefore), BitsOf(Cpu.ToArray(model.Parameters.Values)));
        Assert.Equal(BitsOf(sBefore), BitsOf(LogVariances(step)));
        var statistics = step.ReadStatistics();
        Assert.Equal(1, statistics.SkippedSteps);
        for (int t = 0; t < 2; t++) Assert.Equal(Math.Exp(-sBefore[t]), statistics.TaskWeights[t], 1e-6);
    }

    private static int[] BitsOf(float[] values) => Array.ConvertAll(values, BitConverter.SingleToInt32Bits);
}
