using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A multi-label head (k = 3 logits, masked BCE over the labelled (row, label) pairs, maths §19.8) in the training step:
/// the step's labelled count is the number of labelled pairs and its loss their mean BCE (checked in float64 against
/// <see cref="BinaryCrossEntropyReference"/> from the model's own logits); a batch without any label of the task leaves
/// its head and SGD momentum buffer bit-identical while the regression task still trains the trunk; a warm step
/// allocates 0 bytes (Sum and PcGrad).
/// </summary>
public class MultiLabelTrainingTests
{
    private const int Rows = 32, Half = 16, K = 3, D = 4;

    /// <summary>4 inputs → trunk [8] → "reg" and "tags" (a = [x₀ &gt; 0], b = [x₁ &gt; 0], c = [x₀ + x₂ &gt; 0]); rows 16–31 carry
    /// no tag; rows 0–15 miss label b on every third row.</summary>
    private static (ModelSpec Spec, TrainingData Data) Problem()
    {
        var spec = new ModelSpec(D, [8], [TaskHead.Regression("reg"), TaskHead.MultiLabel("tags", K)]) { Seed = 5 };
        var rng = new Random(7);
        var x = new float[Rows * D];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var reg = new float[Rows];
        var tags = new int[Rows * K];
        for (int r = 0; r < Rows; r++)
        {
            float x0 = x[r * D], x1 = x[r * D + 1], x2 = x[r * D + 2];
            reg[r] = x1 - x[r * D + 3];
            bool tagged = r < Half;
            tags[r * K] = tagged ? (x0 > 0 ? 1 : 0) : MissingLabel.Class;
            tags[r * K + 1] = tagged && r % 3 != 0 ? (x1 > 0 ? 1 : 0) : MissingLabel.Class;
            tags[r * K + 2] = tagged ? (x0 + x2 > 0 ? 1 : 0) : MissingLabel.Class;
        }
        return (spec, new TrainingData(x, D, [TaskData.Regression("reg", reg), TaskData.MultiLabel("tags", tags, K)]));
    }

    [Fact]
    public void The_step_loss_is_the_mean_bce_over_the_labelled_pairs()
    {
        var (spec, data) = Problem();
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        var logits = model.Predict(data.Inputs.AsSpan(0, Half * D), Half)["tags"].Values;     // before the step: the logits the loss sees
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01 }, Half);
        step.Run(device, 0, Half);
        var labels = data["tags"].Classes!;
        double sum = 0;
        int n = 0;
        for (int i = 0; i < Half * K; i++)
            if (labels[i] != MissingLabel.Class) { sum += BinaryCrossEntropyReference.Loss(logits[i], labels[i]); n++; }
        Assert.Equal(Half * K - 6, n);                                       // label b missing on rows 0, 3, …, 15
        Assert.Equal(n, cpu.ToArray(step.TaskLabelled)[1]);
        Tolerance.AllClose([sum / n], [cpu.ToArray(step.TaskLosses)[1]], 1e-5, 1e-7, "tags loss");
    }

    [Fact]
    public void A_batch_without_tags_leaves_the_head_and_its_momentum_untouched()
    {
        var (spec, data) = Problem();
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        using var device = DeviceDataset.Upload(model, data);
        var options = new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, WeightDecay = 0.01 };
        using var step = new TrainingStep(model, options, Half);
        var sgd = Assert.IsType<Sgd<float>>(step.Optimizer);
        step.Run(device, 0, Half);
        var tags = model.HeadRange(1);
        float[] Slice(View<float> v) => cpu.ToArray(v.Slice(tags.Offset, tags.Length));
        var theta = Slice(model.Parameters.Values);
        var buffer = Slice(sgd.MomentumBuffer);
        Assert.Contains(buffer, v => v != 0);
        var trunk = cpu.ToArray(model.Parameters.Values.Slice(model.SharedParameters.Offset, model.SharedParameters.Length));

        step.Run(device, Half, Half);                                        // rows 16–31: no tag at all

        Assert.Equal(0f, cpu.ToArray(step.TaskLabelled)[1]);
        Assert.Equal(0f, cpu.ToArray(step.TaskLosses)[1]);
        Assert.Equal(theta, Slice(model.Parameters.Values));
        Assert.Equal(buffer, Slice(sgd.MomentumBuffer));
        Assert.NotEqual(trunk, cpu.ToArray(model.Parameters.Values.Slice(model.SharedParameters.Offset, model.SharedParameters.Length)));
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_warm_step_with_a_multilabel_head_allocates_nothing(CombinationMethod combination)
    {
        var (spec, data) = Problem();
        using var model = MultiTaskModel.Create(spec, new CpuBackend<float>());
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, MaxGradNorm = 1.0 }, 8);
        for (int b = 0; b < 4; b++) step.Run(device, b * 8, 8);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 8, 8); });
    }
}
