using Engine.Data;
using Engine.Kernels.Cpu;
using Engine.Metrics;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Per-task metrics against a float64 computation in the test from the model's own weights (the forward of
/// <see cref="ReferenceNet"/>): loss, RMSE and MAE in original units (σ = (2, 0.5) per column), accuracy.
/// Float32 sums over ≤ 1500 rows: relative tolerance 1e-5.
/// </summary>
public class MetricsTests
{
    private static readonly CpuBackend<float> Cpu = new();

    private static (double Mse, double Rmse, double Mae, double CrossEntropy, double Accuracy) Reference(MultiTaskModel model, TrainingData data)
    {
        var net = new ReferenceNet(model);
        int n = data.Rows;
        var (_, outputs) = net.Forward(Problems.Inputs(data), n);
        var t = data["reg"].Values!;
        double[] sigma = data["reg"].Scale ?? [1, 1];
        double mse = 0, squared = 0, absolute = 0;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < 2; j++)
            {
                double e = outputs[0][2 * r + j] - t[2 * r + j];
                mse += e * e;
                squared += sigma[j] * sigma[j] * e * e;
                absolute += sigma[j] * Math.Abs(e);
            }
        var labels = data["cls"].Classes!;
        double ce = ReferenceNet.Loss(net.Heads[1].Spec, outputs[1], n, null, labels).Loss;
        int correct = 0;
        for (int r = 0; r < n; r++)
        {
            var row = outputs[1].AsSpan(3 * r, 3);
            int best = 0;
            for (int j = 1; j < 3; j++) if (row[j] > row[best]) best = j;
            if (best == labels[r]) correct++;
        }
        return (mse / (2 * n), Math.Sqrt(squared / (2 * n)), absolute / (2 * n), ce, (double)correct / n);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(1500, true)] // more rows than MaxPredictionBatch: two device passes
    public void Evaluate_matches_float64_loss_rmse_mae_and_accuracy(int rows, bool scaled)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(rows, seed: 4, scale: scaled);
        var metrics = Metrics.Metrics.Evaluate(model, data);
        var expected = Reference(model, data);

        Assert.Equal("reg", metrics[0].Task);
        Assert.Equal(expected.Mse, metrics[0].Loss, 1e-5 * expected.Mse);
        Assert.Equal(expected.Rmse, metrics[0].Rmse!.Value, 1e-5 * expected.Rmse);
        Assert.Equal(expected.Mae, metrics[0].Mae!.Value, 1e-5 * expected.Mae);
        Assert.Null(metrics[0].Accuracy);
        Assert.Equal(expected.CrossEntropy, metrics[1].Loss, 1e-5 * expected.CrossEntropy);
        Assert.Equal(expected.Accuracy, metrics[1].Accuracy!.Value, 1e-12);
        Assert.Null(metrics[1].Rmse);
        if (scaled) Assert.NotEqual(Math.Sqrt(expected.Mse), metrics[0].Rmse!.Value, 1e-3); // σ changed the units
    }

    [Fact]
    public void Training_metrics_of_a_full_batch_epoch_are_those_of_the_weights_before_its_step()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(50, seed: 5, scale: true);
        var expected = Reference(model, data);
        var result = new Trainer(new TrainerOptions { Epochs = 1, BatchSize = 0 }).Fit(model, data, cancellationToken: TestContext.Current.CancellationToken);
        var train = result.History[0].Train;
        Assert.Equal(expected.Mse, train[0].Loss, 1e-5 * expected.Mse);
        Assert.Equal(expected.Rmse, train[0].Rmse!.Value, 1e-5 * expected.Rmse);
        Assert.Equal(expected.Mae, train[0].Mae!.Value, 1e-5 * expected.Mae);
        Assert.Equal(expected.CrossEntropy, train[1].Loss, 1e-5 * expected.CrossEntropy);
        Assert.Equal(expected.Accuracy, train[1].Accuracy!.Value, 1e-12);
        Assert.Equal(expected.Mse + 0.5 * expected.CrossEntropy, result.History[0].TrainLoss, 1e-5);
    }

    [Fact]
    public void Predict_returns_values_probabilities_and_argmax_classes()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(1100, seed: 6);
        var predictions = model.Predict(data.Inputs, data.Rows);
        var (_, outputs) = new ReferenceNet(model).Forward(Problems.Inputs(data), data.Rows);
        Engine.Tests.Infrastructure.Tolerance.AllClose(outputs[0], predictions["reg"].Values, 1e-5, 1e-6, "regression");
        var cls = predictions["cls"];
        Engine.Tests.Infrastructure.Tolerance.AllClose(outputs[1], cls.Values, 1e-5, 1e-6, "logits");
        for (int r = 0; r < data.Rows; r++)
        {
            var z = outputs[1].AsSpan(3 * r, 3);
            double max = Math.Max(z[0], Math.Max(z[1], z[2]));
            double sum = Math.Exp(z[0] - max) + Math.Exp(z[1] - max) + Math.Exp(z[2] - max);
            for (int j = 0; j < 3; j++) Assert.Equal(Math.Exp(z[j] - max) / sum, cls.Probabilities![3 * r + j], 1e-5);
            Assert.Equal(cls.Probabilities!.AsSpan(3 * r, 3).ToArray().Max(), cls.Probabilities![3 * r + cls.Classes![r]]);
        }
    }
}

/// <summary>The path the command-line pipeline takes: CSV → split → standardize → train → metrics in the CSV's units.</summary>
public class DatasetPipelineTests
{
    [Fact]
    public void Energy_efficiency_metrics_are_reported_in_the_original_units()
    {
        var cpu = new CpuBackend<float>();
        var data = CsvTable.Load(Engine.Tests.Data.BundledFiles.EnergyEfficiency, BundledDatasets.EnergyEfficiency);
        var split = DataSplit.Shuffled(data.RowCount, 0.8, 0.2, seed: 1);
        var scale = Standardization.Fit(data, split.Train);
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        var test = data.Select(split.Validation);
        var testData = TrainingData.FromDataset(scale.Apply(test), scale);
        var spec = new ModelSpec(8, [32], [TaskHead.Regression("heating_load"), TaskHead.Regression("cooling_load")]) { Seed = 3 };
        using var model = MultiTaskModel.Create(spec, cpu);
        new Trainer(new TrainerOptions { Epochs = 5, BatchSize = 64, Step = new StepOptions { LearningRate = 0.01 } })
            .Fit(model, train, cancellationToken: TestContext.Current.CancellationToken);

        var metrics = Metrics.Metrics.Evaluate(model, testData);
        var predictions = model.Predict(testData.Inputs, testData.Rows);
        foreach (var (task, m) in new[] { "heating_load", "cooling_load" }.Zip(metrics))
        {
            var values = predictions[task].Values;
            scale.InverseTargets(task, values);   // back to kWh/m², as in the CSV
            var truth = ((RegressionTargets)test.Task(task)).Values;
            double squared = 0, absolute = 0;
            for (int r = 0; r < truth.Length; r++)
            {
                double e = values[r] - truth[r];
                squared += e * e;
                absolute += Math.Abs(e);
            }
            Assert.Equal(Math.Sqrt(squared / truth.Length), m.Rmse!.Value, 1e-4 * m.Rmse.Value);
            Assert.Equal(absolute / truth.Length, m.Mae!.Value, 1e-4 * m.Mae.Value);
            Assert.Equal(m.Loss * scale.Target(task).Std[0] * scale.Target(task).Std[0], m.Rmse.Value * m.Rmse.Value, 1e-4 * m.Rmse.Value * m.Rmse.Value);
        }
    }
}
