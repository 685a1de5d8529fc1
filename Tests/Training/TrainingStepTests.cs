using Engine.Autodiff;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// One <see cref="TrainingStep"/> against independent references: a float64 hand-written network
/// (<see cref="ReferenceNet"/>) with the float64 Adam of the optimizer tests, the same step composed by hand from
/// Tape/Adam, and the combiners run in float64 on the reference gradients.
/// Tolerances: float32 gradients vs float64 within rtol 1e-4 + atol 1e-6 (a few hundred float32 operations per
/// value); one Adam step of lr 0.01 moves a parameter by ≈ lr·g/(|g|+ε), so parameters agree within 1e-5.
/// </summary>
public class TrainingStepTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    private static double[] Values(MultiTaskModel model) => Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
    private static double[] Gradients(MultiTaskModel model) => Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Gradients));

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.0)]
    [InlineData(OptimizerKind.Adam, 0.1)]   // L2: g += λθ
    [InlineData(OptimizerKind.AdamW, 0.1)]  // decoupled: θ ← θ(1 − lr·λ)
    public void Sum_with_Adam_equals_a_float64_reference_step(OptimizerKind optimizer, double weightDecay)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 1);
        var reference = new ReferenceNet(model);
        var theta = Values(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, Optimizer = optimizer, WeightDecay = weightDecay }, Rows);
        Assert.False(step.UsesTaskGradients);

        step.Run(device, 0, Rows);

        var (losses, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        Tolerance.AllClose(losses, Cpu.ToArray(step.TaskLosses), 1e-5, 1e-6, "task losses");
        double[] lambda = [1.0, 0.5];
        var g = new double[model.Parameters.Count];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += lambda[t] * flat[i];
        }
        Tolerance.AllClose(g, Gradients(model), 1e-4, 1e-6, "Σ λᵢ∇Lᵢ");
        Reference.AdamStep(theta, g, new Reference.AdamState(theta.Length),
            new Reference.AdamConfig(Lr: 0.01, Wd: weightDecay, Decoupled: optimizer == OptimizerKind.AdamW));
        Tolerance.AllClose(theta, Values(model), 0, 1e-5, "parameters after the step");
    }

    [Fact]
    public void Sum_step_equals_the_same_step_composed_by_hand_from_tape_and_adam()
    {
        var spec = Problems.Spec();
        var data = Problems.Data(Rows, seed: 2);
        using var model = MultiTaskModel.Create(spec, Cpu);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, MaxGradNorm = 0.5 }, Rows);
        step.Run(device, 0, Rows);
        step.Run(device, 0, Rows);

        // By hand: tape forward, weighted sum with device weights, one backward, clip, Adam.
        using var manual = MultiTaskModel.Create(spec, Cpu);
        using var tape = new Tape<float>(Cpu);
        using var adam = new Adam<float>(Cpu, manual.Parameters, new AdamOptions { LearningRate = 0.01 });
        using var clipper = new GradientClipper<float>(Cpu, manual.Parameters, adam.Control);
        using var x = Cpu.Allocate<float>(data.Inputs);
        using var y = Cpu.Allocate<float>(data["reg"].Values!);
        using var labels = Labels.Upload(Cpu, data["cls"].Classes!, 3);
        using var weights = Cpu.Allocate<float>([1f, 0.5f]);
        var outputs = new Tensor<float>[2];
        for (int s = 0; s < 2; s++)
        {
            tape.Reset();
            Cpu.Fill(manual.Parameters.Gradients, 0f);
            manual.Forward(tape, tape.Input(x.View, Rows, 5), outputs);
            var reg = tape.Mse(outputs[0], tape.Input(y.View, Rows, 2));
            var cls = tape.SoftmaxCrossEntropy(outputs[1], new Labels(labels.View));
            tape.Backward(tape.WeightedSum(tape.Input(weights.View, 1, 2), reg, cls));
            clipper.Clip(0.5);
            adam.Step();
        }
        Assert.Equal(Values(manual), Values(model));
    }

    [Fact]
    public void Per_task_path_with_the_sum_combiner_equals_the_single_backward()
    {
        var spec = Problems.Spec();
        var data = Problems.Data(Rows, seed: 3);
        using var single = MultiTaskModel.Create(spec, Cpu);
        using var perTask = MultiTaskModel.Create(spec, Cpu);
        var reference = new ReferenceNet(single);
        using var d1 = DeviceDataset.Upload(single, data);
        using var d2 = DeviceDataset.Upload(perTask, data);
        using var s1 = new TrainingStep(single, new StepOptions { LearningRate = 0.01 }, Rows);
        using var s2 = new TrainingStep(perTask, new StepOptions { LearningRate = 0.01, TaskGradientDiagnostics = true }, Rows);
        Assert.True(s2.UsesTaskGradients);

        s1.Run(d1, 0, Rows);
        s2.Run(d2, 0, Rows);
        Tolerance.AllClose(Gradients(single), Tolerance.ToFloat(Gradients(perTask)), 1e-5, 1e-7, "gradients");
        var statistics = s2.ReadStatistics();

        // The cosine of the two tasks' trunk gradients, from the float64 reference.
        var (_, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        int trunk = single.SharedParameters.Length;
        var g0 = ReferenceNet.Flatten(single.Parameters, grads[0])[..trunk];
        var g1 = ReferenceNet.Flatten(single.Parameters, grads[1])[..trunk];
        double cos = Dot(g0, g1) / Math.Sqrt(Dot(g0, g0) * Dot(g1, g1));
        Assert.Equal(1.0, statistics.TaskGradientCosines![0, 0], 1e-5);
        Assert.Equal(cos, statistics.TaskGradientCosines[0, 1], 1e-4);
        Assert.Equal(cos < 0 ? 1 : 0, statistics.TaskGradientConflicts![0, 1]);

        s1.Run(d1, 0, Rows);
        s2.Run(d2, 0, Rows);
        Tolerance.AllClose(Values(single), Tolerance.ToFloat(Values(perTask)), 0, 1e-6, "parameters after two steps");
    }

    public static TheoryData<CombinationMethod> Combiners => [CombinationMethod.PcGrad, CombinationMethod.Mgda, CombinationMethod.Projection, CombinationMethod.CaGrad];

    [Theory]
    [MemberData(nameof(Combiners))]
    public void Combined_paths_put_the_combiners_output_on_the_trunk_and_weighted_own_gradients_on_the_heads(CombinationMethod method)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(seed: 1), Cpu);
        var data = Problems.Data(Rows, seed: 7); // chosen so that the two trunk gradients conflict (cos ≈ −0.22)
        var reference = new ReferenceNet(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, Combination = method, CombinationSeed = 5 }, Rows);
        step.Run(device, 0, Rows);

        var (_, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        int trunk = model.SharedParameters.Length;
        var rows = new double[2 * trunk];
        ReferenceNet.Flatten(model.Parameters, grads[0])[..trunk].CopyTo(rows, 0);
        ReferenceNet.Flatten(model.Parameters, grads[1])[..trunk].CopyTo(rows, trunk);
        Assert.True(Dot(rows[..trunk], rows[trunk..]) < 0, "the test needs conflicting task gradients");
        // The per-task rows are the gradients of the UNWEIGHTED losses.
        Tolerance.AllClose(rows, Cpu.ToArray(step.TaskGradients), 1e-4, 1e-6, "per-task trunk gradients");

        // The trunk gradient is the float64 combiner's output on the reference rows with weights (1, 0.5).
        var r = TestDevices.Reference;
        using var rowsBuffer = r.Allocate<double>(rows);
        using var weights = r.Allocate<double>([1.0, 0.5]);
        using var expected = r.Allocate<double>(trunk);
        IGradientCombiner<double> combiner = method switch
        {
            CombinationMethod.PcGrad => new PcGradCombiner<double>(r, 2, 5),
            CombinationMethod.Mgda => new MgdaCombiner<double>(r),
            CombinationMethod.Projection => new ProjectionCombiner<double>(r),
            _ => new CaGradCombiner<double>(r, 0.5),
        };
        combiner.Combine(rowsBuffer.View, 2, weights.View, expected.View);
        (combiner as IDisposable)?.Dispose();
        var combined = r.ToArray(expected.View);
        var actual = Gradients(model);
        Tolerance.AllClose(combined, actual[..trunk], 1e-4, 1e-6, $"{method} trunk gradient");

        // It is not the plain weighted sum (the combiner mattered) …
        var sum = new double[trunk];
        for (int i = 0; i < trunk; i++) sum[i] = rows[i] + 0.5 * rows[trunk + i];
        Assert.True(MaxAbsDiff(sum, combined) > 1e-4, $"{method} gave the plain sum: the test data does not exercise it.");
        // … and each head holds λₜ times its own gradient.
        for (int t = 0; t < 2; t++)
        {
            var (offset, length) = model.HeadRange(t);
            var head = ReferenceNet.Flatten(model.Parameters, grads[t])[offset..(offset + length)];
            Tolerance.AllClose(head.Select(v => v * (t == 0 ? 1.0 : 0.5)).ToArray(), Tolerance.ToFloat(actual[offset..(offset + length)]), 1e-4, 1e-6, $"head {t}");
        }
    }

    [Fact]
    public void Head_learning_rates_move_each_head_by_its_own_rate()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(regLr: 0.0, clsLr: 0.05), Cpu);
        var before = Values(model);
        using var device = DeviceDataset.Upload(model, Problems.Data(Rows, seed: 6));
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.001 }, Rows);
        Assert.Equal(3, step.Optimizer.Groups.Count);
        step.Run(device, 0, Rows);
        var after = Values(model);
        var g = Gradients(model);

        // Adam's first step (bias-corrected): Δθ = −lr·g/(|g| + ε).
        double Expected(int i, double lr) => before[i] - lr * g[i] / (Math.Abs(g[i]) + 1e-8);
        var (regOffset, regLength) = model.HeadRange(0);
        var (clsOffset, clsLength) = model.HeadRange(1);
        int trunk = model.SharedParameters.Length;
        for (int i = 0; i < trunk; i++) Assert.Equal(Expected(i, 0.001), after[i], 1e-6);
        for (int i = regOffset; i < regOffset + regLength; i++) Assert.Equal(before[i], after[i]);
        for (int i = clsOffset; i < clsOffset + clsLength; i++) Assert.Equal(Expected(i, 0.05), after[i], 1e-6);
        Assert.True(Math.Abs(after[clsOffset] - before[clsOffset]) > 0.04);
    }

    [Fact]
    public void Loss_balanced_weights_come_from_the_step_losses()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 8);
        var reference = new ReferenceNet(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { Weighting = WeightingMethod.LossBalanced }, Rows);
        step.Run(device, 0, Rows);
        var (losses, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        double w0 = (1 / losses[0]) / (1 / losses[0] + 1 / losses[1]);
        var statistics = step.ReadStatistics();
        Assert.Equal(w0, statistics.TaskWeights[0], 1e-5);
        Assert.Equal(1 - w0, statistics.TaskWeights[1], 1e-5);
        var g = new double[model.Parameters.Count];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += (t == 0 ? w0 : 1 - w0) * flat[i];
        }
        Tolerance.AllClose(g, Gradients(model), 1e-4, 1e-6, "Σ wᵢ∇Lᵢ");
    }

    [Fact]
    public void Uncertainty_weighting_learns_log_variances_with_their_own_gradient()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 9);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { Weighting = WeightingMethod.Uncertainty, LearningRate = 0.01 }, Rows);
        step.Run(device, 0, Rows);
        var losses = Cpu.ToArray(step.TaskLosses);
        // s starts at 0 (weights exp(−0) = 1 for this step); ∂L/∂sᵢ = 1 − exp(−sᵢ)Lᵢ = 1 − Lᵢ, so Adam's first step moves
        // sᵢ by −0.01·sign(1 − Lᵢ), and the next weights are exp(−sᵢ).
        var weights = step.ReadStatistics().TaskWeights;
        step.Run(device, 0, Rows);
        var next = step.ReadStatistics().TaskWeights;
        for (int t = 0; t < 2; t++)
        {
            Assert.Equal(1.0, weights[t], 6);
            Assert.Equal(Math.Exp(0.01 * Math.Sign(1 - losses[t])), next[t], 5);
        }
    }

    [Fact]
    public void Sgd_with_global_norm_clipping_equals_the_reference_and_reports_per_parameter_norms()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(Rows, seed: 10);
        var reference = new ReferenceNet(model);
        var theta = Values(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, Momentum = 0.9, MaxGradNorm = 0.05 }, Rows);
        step.Run(device, 0, Rows);

        var (_, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        var g = new double[theta.Length];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += (t == 0 ? 1.0 : 0.5) * flat[i];
        }
        double norm = Math.Sqrt(g.Sum(v => v * v));
        Assert.True(norm > 0.05, "the test needs a gradient norm above the clipping threshold");
        double scale = Math.Min(1, 0.05 / (norm + 1e-6));
        for (int i = 0; i < theta.Length; i++) theta[i] -= 0.1 * scale * g[i]; // first step: momentum buffer = g
        Tolerance.AllClose(theta, Values(model), 0, 1e-6, "parameters after the clipped SGD step");

        var statistics = step.ReadStatistics();
        Assert.Equal(norm, statistics.GradientNorm, 1e-5 * norm);
        foreach (var (name, value) in statistics.ParameterGradientNorms)
        {
            var slot = model.Parameters[name];
            double expected = Math.Sqrt(g.Skip(slot.Offset).Take(slot.Length).Sum(v => v * v));
            Assert.Equal(expected, value, 1e-4 * expected + 1e-7);
        }
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();
    private static double MaxAbsDiff(double[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
}
