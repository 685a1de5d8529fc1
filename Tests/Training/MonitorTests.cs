using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Cli;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// <c>--monitor TASK:METRIC</c>: the direction of every metric, names checked against the tasks and their kinds, and early
/// stopping on a monitored metric restoring the epoch where that metric (read from the epoch reports) was best.
/// </summary>
public class MonitorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("loss", true)]
    [InlineData("rmse", true)]
    [InlineData("mae", true)]
    [InlineData("log-loss", true)]
    [InlineData("auc", false)]
    [InlineData("accuracy", false)]
    [InlineData("f1", false)]
    [InlineData("precision", false)]
    [InlineData("recall", false)]
    [InlineData("r2", false)]
    public void Each_metric_has_its_direction(string metric, bool lowerIsBetter) =>
        Assert.Equal(lowerIsBetter, EarlyStoppingMonitor.Parse("task:" + metric).LowerIsBetter);

    [Fact]
    public void Bad_names_are_errors_naming_the_task_or_the_metric()
    {
        TaskHead[] heads = [TaskHead.Regression("q"), TaskHead.Binary("color")];
        Assert.Contains("unknown metric 'aucc'", Assert.Throws<ArgumentException>(() => EarlyStoppingMonitor.Parse("color:aucc")).Message);
        Assert.Contains("expected TASK:METRIC", Assert.Throws<ArgumentException>(() => EarlyStoppingMonitor.Parse("color")).Message);
        Assert.Contains("no task 'colour'", Assert.Throws<ArgumentException>(() => EarlyStoppingMonitor.Parse("colour:auc").Validate(heads)).Message);
        Assert.Contains("'auc' does not apply to task 'q'", Assert.Throws<ArgumentException>(() => EarlyStoppingMonitor.Parse("q:auc").Validate(heads)).Message);
        EarlyStoppingMonitor.Parse("color:auc").Validate(heads);
        EarlyStoppingMonitor.Parse("q:r2").Validate(heads);
    }

    [Fact]
    public void The_cli_rejects_a_bad_monitor_with_a_usage_error()
    {
        using var dir = new Engine.Tests.Data.TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--patience", "3", "--monitor", "y:auc"),
            Engine.Cli.ExitCodes.Usage, "'auc' does not apply to task 'y'");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--patience", "3", "--monitor", "label:aucc"),
            Engine.Cli.ExitCodes.Usage, "unknown metric 'aucc'");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--monitor", "label:auc"),
            Engine.Cli.ExitCodes.Usage, "--patience");
    }

    [Fact]
    public void Early_stopping_on_a_higher_is_better_metric_restores_its_best_epoch()
    {
        var spec = new ModelSpec(5, [8], [TaskHead.Regression("reg"), TaskHead.Binary("pos")]) { Seed = 5 };
        static TrainingData Data(int rows, int seed)
        {
            var rng = new Random(seed);
            var x = new float[rows * 5];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
            var reg = new float[rows];
            var pos = new int[rows];
            for (int r = 0; r < rows; r++)
            {
                reg[r] = x[r * 5 + 2];
                // noisy labels: validation accuracy goes up and down, so the best epoch is not the last
                pos[r] = (x[r * 5] + x[r * 5 + 1] + 0.8 * (rng.NextDouble() - 0.5) > 0) ? 1 : 0;
            }
            return new TrainingData(x, 5, [TaskData.Regression("reg", reg), TaskData.Binary("pos", pos)]);
        }
        using var backend = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, backend);
        var options = new TrainerOptions
        {
            Epochs = 40, BatchSize = 16, EarlyStoppingPatience = 5, Monitor = EarlyStoppingMonitor.Parse("pos:auc"),
            Step = new StepOptions { LearningRate = 0.05 },
        };
        var validation = Data(80, 2);
        var result = new Trainer(options).Fit(model, Data(200, 1), validation, cancellationToken: Ct);

        // The best epoch is the first one with the highest validation AUC (strict improvement), as read from the reports.
        var aucs = result.History.Select(e => e.Validation!.Single(m => m.Task == "pos").Auc!.Value).ToArray();
        int best = 0;
        for (int i = 1; i < aucs.Length; i++) if (aucs[i] > aucs[best]) best = i;
        Assert.Equal(best + 1, result.BestEpoch);
        // The restored weights give that epoch's AUC again.
        var again = model.Evaluate(validation).Single(m => m.Task == "pos").Auc!.Value;
        Assert.Equal(aucs[best], again, 12);
        Assert.Equal(result.StoppedEarly, result.History.Count < 40);
    }
}
