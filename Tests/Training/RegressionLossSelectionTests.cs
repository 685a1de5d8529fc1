using Engine.Tests.Infrastructure;
using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Cli;
using Engine.Tests.Data;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A regression task's loss chosen per task (<see cref="TaskHead.Loss"/>, <c>--loss TASK:LOSS</c>, maths §19.6): the
/// training step and the evaluator use it (checked against the closed forms of L1 and Huber computed here in float64 from
/// the model's own predictions, and against MSE through Huber's quadratic branch: ∇Huber = ½∇MSE, so SGD with Huber(δ ≫ |d|)
/// at 2η walks MSE's path at η), checkpoints keep it, and bad values are errors naming the flag, task or loss.
/// </summary>
public class RegressionLossSelectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>4 inputs → trunk [8] → "a" and "b" (regression, b with outliers on every 7th row), a quarter of "b" unlabelled.</summary>
    private static TrainingData Data(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var a = new float[rows];
        var b = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            a[r] = x[r * 4] - 0.5f * x[r * 4 + 1];
            b[r] = r % 4 == 3 ? float.NaN : x[r * 4 + 2] * x[r * 4 + 3] + (r % 7 == 0 ? 5f : 0f);
        }
        return new TrainingData(x, 4, [TaskData.Regression("a", a), TaskData.Regression("b", b)]);
    }

    private static ModelSpec Spec(RegressionLoss? a, RegressionLoss? b) =>
        new(4, [8], [TaskHead.Regression("a") with { Loss = a }, TaskHead.Regression("b") with { Loss = b }]) { Seed = 7 };

    /// <summary>The float64 closed forms, written apart from <see cref="RegressionLoss"/>.</summary>
    private static double Reference(RegressionLoss loss, double d) => loss.Kind switch
    {
        RegressionLossKind.L1 => Math.Abs(d),
        RegressionLossKind.Huber => Math.Abs(d) <= loss.Delta ? d * d / 2 : loss.Delta * Math.Abs(d) - loss.Delta * loss.Delta / 2,
        _ => d * d,
    };

    [Fact]
    public void The_evaluated_loss_of_each_task_is_its_own_loss_of_the_models_predictions()
    {
        var data = Data(200, 1);
        RegressionLoss l1 = new(RegressionLossKind.L1), huber = new(RegressionLossKind.Huber, 0.4);
        using var model = MultiTaskModel.Create(Spec(l1, huber), new CpuBackend<float>());
        new Trainer(new TrainerOptions { Epochs = 5, BatchSize = 32 }).Fit(model, data, cancellationToken: Ct);
        var metrics = Engine.Metrics.Metrics.Evaluate(model, data);
        var predictions = model.Predict(data.Inputs, data.Rows);
        foreach (var (task, loss) in new[] { ("a", l1), ("b", huber) })
        {
            var y = data[task].Values!;
            double sum = 0;
            int n = 0;
            for (int r = 0; r < data.Rows; r++)
                if (!float.IsNaN(y[r])) { sum += Reference(loss, (double)predictions[task].Values[r] - y[r]); n++; }
            var m = metrics.Single(t => t.Task == task);
            Assert.Equal(n, m.Labelled);
            Assert.Equal(sum / n, m.Loss, 2e-6 * (sum / n) + 1e-7); // float32 device sum vs float64 host sum
        }
    }

    [Fact]
    public void Sgd_on_huber_inside_its_quadratic_branch_at_twice_the_rate_follows_mse()
    {
        var data = Data(96, 2);
        double[] Train(RegressionLoss? loss, double lr)
        {
            var cpu = new CpuBackend<float>();
            using var model = MultiTaskModel.Create(Spec(loss, loss), cpu);
            new Trainer(new TrainerOptions { Epochs = 3, BatchSize = 32, Step = new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr } })
                .Fit(model, data, cancellationToken: Ct);
            return Array.ConvertAll(cpu.ToArray(model.Parameters.Values), v => (double)v);
        }
        var mse = Train(null, 0.05);
        var huber = Train(new RegressionLoss(RegressionLossKind.Huber, 1000), 0.1);
        var l1 = Train(new RegressionLoss(RegressionLossKind.L1), 0.1);
        double worst = 0, apart = 0;
        for (int i = 0; i < mse.Length; i++) { worst = Math.Max(worst, Math.Abs(mse[i] - huber[i])); apart = Math.Max(apart, Math.Abs(mse[i] - l1[i])); }
        Assert.True(worst < 1e-5, $"Huber(δ=1000)@0.1 vs MSE@0.05: max |Δθ| = {worst}");
        Assert.True(apart > 1e-3, $"L1 must train differently from MSE: max |Δθ| = {apart}");
    }

    [Fact]
    public void A_checkpoint_keeps_the_loss_and_an_mse_model_keeps_its_json()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("huber.safetensors");
        var spec = Spec(null, new RegressionLoss(RegressionLossKind.Huber, 1.5));
        using (var model = MultiTaskModel.Create(spec, new CpuBackend<float>())) model.Save(path);
        using var loaded = MultiTaskModel.Load(path, new CpuBackend<float>());
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(new RegressionLoss(RegressionLossKind.Huber, 1.5), loaded.Spec.Heads[1].Loss);
        Assert.Null(loaded.Spec.Heads[0].Loss);
        Assert.DoesNotContain("Loss\"", Spec(null, null).ToJson());
    }

    [Fact]
    public void Parse_reads_the_flag_forms_and_rejects_the_rest()
    {
        Assert.Equal(RegressionLoss.Mse, RegressionLoss.Parse("mse"));
        Assert.Equal(new RegressionLoss(RegressionLossKind.L1), RegressionLoss.Parse("L1"));
        Assert.Equal(new RegressionLoss(RegressionLossKind.Huber, 1.0), RegressionLoss.Parse("huber"));
        Assert.Equal(new RegressionLoss(RegressionLossKind.Huber, 0.25), RegressionLoss.Parse("huber:0.25"));
        Assert.Equal("huber:0.25", RegressionLoss.Parse("huber:0.25").ToString());
        Assert.Contains("δ must be a finite number > 0", Assert.Throws<ArgumentException>(() => RegressionLoss.Parse("huber:0")).Message);
        Assert.Contains("δ must be a finite number > 0", Assert.Throws<ArgumentException>(() => RegressionLoss.Parse("huber:x")).Message);
        Assert.Contains("'quantile' is not a regression loss", Assert.Throws<ArgumentException>(() => RegressionLoss.Parse("quantile")).Message);
        Assert.Contains("'l1:2' is not a regression loss", Assert.Throws<ArgumentException>(() => RegressionLoss.Parse("l1:2")).Message);
        var binary = new ModelSpec(4, [8], [TaskHead.Binary("c") with { Loss = RegressionLoss.Mse }]);
        Assert.Contains("applies to regression tasks", Assert.Throws<ArgumentException>(() => MultiTaskModel.Create(binary, new CpuBackend<float>())).Message);
    }

    [Fact]
    public void The_cli_trains_with_a_huber_task_and_rejects_bad_loss_flags()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        var ok = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--loss", "y:huber:0.5", "--report", "-"]);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var report = Engine.Experiments.ExperimentReport.FromJson(ok.Output);
        Assert.Equal(new RegressionLoss(RegressionLossKind.Huber, 0.5), report.Settings.Losses["y"]); // the settings keep it
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--loss", "label:l1"]), Engine.Cli.ExitCodes.Usage,
            "--loss label:l1", "'label' is not a --regression task", "classification, binary and multi-label tasks have their own loss");
        Mtl.AssertFails(Mtl.Run("train", "--loss", "nosuch:l1", "--epochs", "1"), Engine.Cli.ExitCodes.BadInput, // bundled schema
            "--loss nosuch:l1 names 'nosuch'", "regression tasks are: heating_load, cooling_load");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--loss", "y:huber:-1"]), Engine.Cli.ExitCodes.Usage, "--loss y:huber:-1", "δ must be");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--loss", "y"]), Engine.Cli.ExitCodes.Usage, "'y' is not TASK:LOSS");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--loss", "y:l1", "--loss", "y:mse"]), Engine.Cli.ExitCodes.Usage, "'y' is given twice");
    }

    [Fact]
    public void A_warm_step_with_l1_and_huber_heads_allocates_nothing()
    {
        var data = Data(64, 3);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(new RegressionLoss(RegressionLossKind.L1), new RegressionLoss(RegressionLossKind.Huber, 0.5)), cpu);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16); });
    }
}
