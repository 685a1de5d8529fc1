using Engine.Tests.Infrastructure;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Metrics;
using Engine.Tests.Data;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A binary task (one logit, masked binary cross-entropy) through the model, the trainer, the device metrics, predict
/// and a checkpoint: checked against host computations from the model's own logits (σ in float64, the stable loss of
/// <see cref="BinaryCrossEntropyReference"/>), and a warm step of a model with a binary head allocates nothing.
/// </summary>
public class BinaryTaskTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>5 inputs → trunk [8] → "reg" (regression) and "pos" (binary: x₀ + x₁ > 0), a third of "pos" unlabelled.</summary>
    private static (ModelSpec Spec, TrainingData Data) Problem(int rows, int seed)
    {
        var spec = new ModelSpec(5, [8], [TaskHead.Regression("reg"), TaskHead.Binary("pos")]) { Seed = 3 };
        var rng = new Random(seed);
        var x = new float[rows * 5];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var reg = new float[rows];
        var pos = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            reg[r] = x[r * 5 + 2] - x[r * 5 + 3];
            pos[r] = r % 3 == 2 ? MissingLabel.Class : x[r * 5] + x[r * 5 + 1] > 0 ? 1 : 0;
        }
        return (spec, new TrainingData(x, 5, [TaskData.Regression("reg", reg), TaskData.Binary("pos", pos)]));
    }

    [Fact]
    public void Training_learns_the_binary_task_and_the_device_metrics_match_the_host_from_the_logits()
    {
        var (spec, data) = Problem(300, 1);
        using var model = MultiTaskModel.Create(spec, Cpu);
        var result = new Trainer(new TrainerOptions { Epochs = 60, BatchSize = 32 }).Fit(model, data, cancellationToken: Ct);
        Assert.True(result.History[^1].Train[1].Loss < 0.6 * result.History[0].Train[1].Loss,
            $"binary loss {result.History[0].Train[1].Loss} → {result.History[^1].Train[1].Loss}");

        var metrics = Engine.Metrics.Metrics.Evaluate(model, data).Single(m => m.Task == "pos");
        var prediction = model.Predict(data.Inputs, data.Rows)["pos"];
        var labels = data["pos"].Classes!;
        double loss = 0;
        int n = 0, correct = 0;
        for (int r = 0; r < data.Rows; r++)
        {
            Assert.Equal(BinaryCrossEntropyReference.Sigmoid(prediction.Values[r]), prediction.Probabilities![r], 1e-6);
            Assert.Equal(prediction.Values[r] > 0 ? 1 : 0, prediction.Classes![r]);
            if (labels[r] < 0) continue;
            n++;
            loss += BinaryCrossEntropyReference.Loss(prediction.Values[r], labels[r]);
            if (prediction.Classes[r] == labels[r]) correct++;
        }
        Assert.Equal(TaskKind.Binary, metrics.Kind);
        Assert.Equal(n, metrics.Labelled);                                    // the unlabelled third is left out
        Assert.Equal(loss / n, metrics.Loss, 1e-5 * (loss / n));              // float32 device sum vs float64 host sum
        Assert.Equal((double)correct / n, metrics.Accuracy!.Value, 12);
        Assert.InRange(metrics.Accuracy!.Value, 0.9, 1.0);                    // a linear boundary: the trunk learns it
    }

    [Fact]
    public void A_binary_model_saves_its_task_kind_and_loads_to_the_same_probabilities()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("binary.safetensors");
        var (spec, data) = Problem(64, 2);
        using var model = MultiTaskModel.Create(spec, Cpu);
        new Trainer(new TrainerOptions { Epochs = 2, BatchSize = 16 }).Fit(model, data, cancellationToken: Ct);
        model.Save(path);
        using var loaded = MultiTaskModel.Load(path, Cpu);
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(TaskKind.Binary, loaded.Spec.Heads[1].Kind);
        Assert.Contains("\"Binary\"", loaded.Spec.ToJson());
        Assert.Equal(model.Predict(data.Inputs, data.Rows)["pos"].Probabilities, loaded.Predict(data.Inputs, data.Rows)["pos"].Probabilities);
    }

    [Fact]
    public void A_binary_head_must_have_one_output_and_binary_labels_must_be_0_1_or_missing()
    {
        var spec = new ModelSpec(5, [8], [new TaskHead("pos", TaskKind.Binary, 2)]);
        Assert.Throws<ArgumentOutOfRangeException>(() => MultiTaskModel.Create(spec, Cpu));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TaskData.Binary("pos", [0, 1, 2]));
        Assert.Contains("[row 2] = 2", error.Message);
    }

    [Fact]
    public void A_binary_column_with_three_classes_is_an_error_naming_the_file_and_column()
    {
        using var dir = new TempDirectory();
        string csv = dir.Write("three.csv", "x,y\n1,a\n2,b\n3,c\n");
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(csv, TableSchema.Empty.WithNumeric("x").WithBinary("y")));
        Assert.Contains("three.csv", error.Message);
        Assert.Contains("exactly two classes", error.Message);
        Assert.Equal("y", error.Column);
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_warm_step_with_a_binary_head_allocates_nothing(CombinationMethod combination)
    {
        var (spec, data) = Problem(64, 1);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, MaxGradNorm = 1.0 }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16); });
    }
}
