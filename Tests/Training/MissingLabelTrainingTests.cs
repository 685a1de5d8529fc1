using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Training steps on batches where a task has no label (maths.md §19): the task's loss is 0 and its labelled count 0
/// (never NaN), its head's parameters and optimizer state stay bit-identical under Adam and SGD with momentum (the
/// optimizer's gated range), the other task still trains, every combiner keeps the parameters finite, and the metrics
/// count labelled values only. The problem is <see cref="Problems"/>: rows 0–7 labelled for both tasks, rows 8–15
/// labelled for "reg" only.
/// </summary>
public class MissingLabelTrainingTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16, Half = 8;

    /// <summary>The problem's data with the class labels of rows [8, 16) removed, and "reg" column 1 of rows 0–3.</summary>
    private static TrainingData PartlyLabelled()
    {
        var full = Problems.Data(Rows, seed: 3);
        var classes = (int[])full["cls"].Classes!.Clone();
        for (int r = Half; r < Rows; r++) classes[r] = MissingLabel.Class;
        var values = (float[])full["reg"].Values!.Clone();
        for (int r = 0; r < 4; r++) values[2 * r + 1] = float.NaN;
        return new TrainingData(full.Inputs, 5, [TaskData.Regression("reg", values, 2), TaskData.Classification("cls", classes, 3)]);
    }

    private static float[] Slice(Backend<float> backend, View<float> view, (int Offset, int Length) range) =>
        backend.ToArray(view.Slice(range.Offset, range.Length));

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Adam_leaves_an_unlabelled_head_and_its_moments_untouched(string device)
    {
        var backend = TestDevices.Get(device);
        using var model = MultiTaskModel.Create(Problems.Spec(), backend);
        using var data = DeviceDataset.Upload(model, PartlyLabelled());
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, WeightDecay = 0.1 }, Half);
        var adam = Assert.IsType<Adam<float>>(step.Optimizer);
        step.Run(data, 0, Half);                       // both tasks labelled: every moment becomes non-zero
        var cls = model.HeadRange(1);
        var reg = model.HeadRange(0);
        var theta = Slice(backend, model.Parameters.Values, cls);
        var m = Slice(backend, adam.FirstMoment, cls);
        var v = Slice(backend, adam.SecondMoment, cls);
        Assert.Contains(m, x => x != 0);
        var regBefore = Slice(backend, model.Parameters.Values, reg);

        step.Run(data, Half, Half);                    // no "cls" label in this batch

        Assert.Equal([0f, 16f], backend.ToArray(step.TaskLabelled).Reverse().ToArray()); // cls: 0, reg: 8 rows × 2
        Assert.Equal(0f, backend.ToArray(step.TaskLosses)[1]);
        Assert.Equal(theta, Slice(backend, model.Parameters.Values, cls));
        Assert.Equal(m, Slice(backend, adam.FirstMoment, cls));
        Assert.Equal(v, Slice(backend, adam.SecondMoment, cls));
        Assert.NotEqual(regBefore, Slice(backend, model.Parameters.Values, reg)); // the labelled task still trains
    }

    [Fact]
    public void Sgd_with_momentum_and_decay_leaves_an_unlabelled_head_and_its_buffer_untouched()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var data = DeviceDataset.Upload(model, PartlyLabelled());
        var options = new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9, WeightDecay = 0.01 };
        using var step = new TrainingStep(model, options, Half);
        var sgd = Assert.IsType<Sgd<float>>(step.Optimizer);
        step.Run(data, 0, Half);
        var cls = model.HeadRange(1);
        var theta = Slice(Cpu, model.Parameters.Values, cls);
        var buffer = Slice(Cpu, sgd.MomentumBuffer, cls);
        Assert.Contains(buffer, x => x != 0);
        var trunk = Cpu.ToArray(model.Parameters.Values.Slice(model.SharedParameters.Offset, model.SharedParameters.Length));

        step.Run(data, Half, Half);

        Assert.Equal(theta, Slice(Cpu, model.Parameters.Values, cls));
        Assert.Equal(buffer, Slice(Cpu, sgd.MomentumBuffer, cls));
        Assert.NotEqual(trunk, Cpu.ToArray(model.Parameters.Values.Slice(model.SharedParameters.Offset, model.SharedParameters.Length)));
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.Projection)]
    [InlineData(CombinationMethod.PcGrad)]
    [InlineData(CombinationMethod.Mgda)]
    [InlineData(CombinationMethod.CaGrad)]
    public void Every_combiner_keeps_the_parameters_finite_when_a_task_has_no_label(CombinationMethod combination)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var data = DeviceDataset.Upload(model, PartlyLabelled());
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, Combination = combination }, Half);
        for (int i = 0; i < 3; i++) step.Run(data, Half, Half);
        Assert.All(Cpu.ToArray(model.Parameters.Values), v => Assert.True(float.IsFinite(v)));
        Assert.All(Cpu.ToArray(model.Parameters.Gradients), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Metrics_count_labelled_values_only()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var host = PartlyLabelled();
        using var data = DeviceDataset.Upload(model, host);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0 }, Rows); // lr 0: the model stays put
        step.Run(data, 0, Half);
        step.Run(data, Half, Half);
        var stats = step.ReadStatistics();
        Assert.Equal(Rows, stats.Rows);
        var reg = stats.Tasks[0];
        var cls = stats.Tasks[1];
        Assert.Equal(2 * Rows - 4, reg.Labelled);   // 4 values of column 1 removed
        Assert.Equal(Half, cls.Labelled);

        // Independent reference: predictions of the (unchanged) model, metrics over the labelled values, in float64.
        var predictions = model.Predict(host.Inputs, Rows);
        var p = predictions["reg"].Values;
        double squared = 0, absolute = 0; int n = 0;
        for (int i = 0; i < p.Length; i++)
        {
            float t = host["reg"].Values![i];
            if (float.IsNaN(t)) continue;
            squared += (p[i] - t) * (double)(p[i] - t); absolute += Math.Abs(p[i] - t); n++;
        }
        Tolerance.AllClose([Math.Sqrt(squared / n), absolute / n, squared / n], [reg.Rmse!.Value, reg.Mae!.Value, reg.Loss], 1e-5, 1e-7, "reg metrics");
        var logits = predictions["cls"].Values;
        int correct = 0;
        for (int r = 0; r < Half; r++)
        {
            int best = 0;
            for (int j = 1; j < 3; j++) if (logits[r * 3 + j] > logits[r * 3 + best]) best = j;
            if (best == host["cls"].Classes![r]) correct++;
        }
        Assert.Equal((double)correct / Half, cls.Accuracy!.Value, 12);
    }
}
