using Engine.Data;
using Engine.Experiments;
using Engine.Kernels.Cpu;

namespace Engine.Tests.Experiments;

/// <summary>
/// The whole pipeline on the bundled datasets, on the SIMD CPU path (float32), seeded. The thresholds are the
/// project's targets; the comments give the numbers these runs reach and what a trivial model would get,
/// so a failure means a real regression, not noise.
/// </summary>
public class EndToEndTrainingTests
{
    private static TaskScore Test(ExperimentOutcome o, string task) => o.Report.Metrics.Test.Single(s => s.Task == task);

    [Fact]
    public void Default_settings_reach_the_energy_efficiency_target()
    {
        // Defaults: 64-64 ReLU trunk, Adam lr 0.01, cosine to 0, batch 32, 300 epochs, 80/20 split, seed 42 (~1.5 s).
        // Target (Tsanas & Xifara 2012 random forests: 0.51/1.42): test MAE ≤ 0.6 heating, ≤ 1.5 cooling.
        // These runs reach ≈ 0.26 and ≈ 0.38; predicting the mean gives ≈ 9.1 and ≈ 8.6.
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(new ExperimentSettings(), backend, cancellation: TestContext.Current.CancellationToken);

        Assert.Equal(614, outcome.Report.Data.TrainRows);
        Assert.Equal(154, outcome.Report.Data.TestRows);
        Assert.InRange(Test(outcome, "heating_load").Mae!.Value, 0, 0.6);
        Assert.InRange(Test(outcome, "cooling_load").Mae!.Value, 0, 1.5);
        Assert.Equal(300, outcome.Report.History.Count);
    }

    [Fact]
    public void Wine_quality_regression_and_color_classification_reach_their_targets()
    {
        // Quality (3…9) as a regression, color (red/white) as a 2-class classification; 30 epochs (~3 s).
        // Targets: color accuracy ≥ 99 %, quality RMSE ≤ 0.75. These runs reach ≈ 99.6 % and ≈ 0.67; the
        // standard deviation of quality (RMSE of predicting the mean) is ≈ 0.87 and the majority color gives 75 %.
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(new ExperimentSettings
        {
            DataPath = BundledPaths.WineQuality, Regression = ["quality"], Classification = ["color"], Epochs = 30,
        }, backend, cancellation: TestContext.Current.CancellationToken);

        Assert.InRange(Test(outcome, "color").Accuracy!.Value, 0.99, 1.0);
        Assert.InRange(Test(outcome, "quality").Rmse!.Value, 0, 0.75);
        Assert.Equal(["red", "white"], outcome.Report.Data.Tasks.Single(t => t.Name == "color").Classes);

        // Cross-check against the engine's own metrics (device-side evaluation on standardized data, σ-scaled
        // errors): two independent implementations of the same definitions. Tolerance: float32 predictions and
        // float32 σ·error products on the device → 1e-4 relative.
        var engine = outcome.Model.Evaluate(Engine.Training.TrainingData.FromDataset(outcome.Data.Test, outcome.Data.Standardization));
        foreach (var ours in outcome.Report.Metrics.Test)
        {
            var theirs = engine.Single(m => m.Task == ours.Task);
            Assert.Equal(ours.Loss, theirs.Loss, 1e-4 * Math.Abs(ours.Loss) + 1e-6);
            if (ours.Rmse is { } rmse) Assert.Equal(rmse, theirs.Rmse!.Value, 1e-4 * rmse);
            if (ours.Mae is { } mae) Assert.Equal(mae, theirs.Mae!.Value, 1e-4 * mae);
            if (ours.Accuracy is { } accuracy) Assert.Equal(accuracy, theirs.Accuracy!.Value, 1e-12);
        }
    }

    [Fact]
    public void Baselines_train_one_model_per_task_and_delta_m_follows_from_their_test_metrics()
    {
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(new ExperimentSettings { Epochs = 40, Baselines = true }, backend, cancellation: TestContext.Current.CancellationToken);
        var baselines = outcome.Report.Baselines!;

        Assert.Equal(["heating_load", "cooling_load"], baselines.Runs.Select(r => r.Task));
        double sum = 0;
        foreach (var run in baselines.Runs)
        {
            // Each baseline scored exactly its own task, on the same test rows.
            var single = Assert.Single(run.Metrics.Test);
            Assert.Equal(run.Task, single.Task);
            Assert.Equal(154, single.Rows);
            // Sane: after 40 epochs a single-task model is far below the ≈ 9 MAE of predicting the mean (9.1 heating, 8.6 cooling).
            Assert.InRange(single.Mae!.Value, 0, 2.5);
            double mtl = Test(outcome, run.Task).Rmse!.Value, stl = single.Rmse!.Value;
            double gain = -(mtl - stl) / stl * 100; // lower RMSE is better: l = 1
            Assert.Equal(gain, baselines.Gains.Single(g => g.Task == run.Task).GainPercent, 9);
            sum += gain;
        }
        Assert.Equal(sum / 2, baselines.DeltaM, 9);
    }

    [Fact]
    public void Early_stopping_restores_the_best_validation_epoch()
    {
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(new ExperimentSettings
        {
            DataPath = BundledPaths.WineQuality, Regression = ["quality"], Classification = ["color"],
            Epochs = 60, ValidationFraction = 0.1, Patience = 3,
        }, backend, cancellation: TestContext.Current.CancellationToken);
        var r = outcome.Report;
        // The validation loss of the wine model stops improving long before 60 epochs (it overfits quality).
        Assert.True(r.StoppedEarly);
        Assert.Equal(r.BestEpoch + 3, r.History.Count);
        double best = r.History[r.BestEpoch - 1].ValidationLoss!.Value;
        Assert.All(r.History, e => Assert.True(e.ValidationLoss >= best));
    }

    [Fact]
    public void Cancelling_between_epochs_stops_training_with_OperationCanceledException()
    {
        using var backend = new CpuBackend<float>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var seen = new List<int>();
        var progress = new Sink(e => { seen.Add(e.Epoch); if (e.Epoch == 2) stop.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            Experiment.Run(new ExperimentSettings { Epochs = 200 }, backend, (_, _) => progress, stop.Token));
        // It stopped right after the epoch that cancelled, not at the end of the run.
        Assert.InRange(seen.Count, 2, 3);
    }

    /// <summary>A synchronous progress sink (System.Progress posts to the thread pool).</summary>
    private sealed class Sink(Action<Engine.Training.EpochReport> report) : IProgress<Engine.Training.EpochReport>
    {
        public void Report(Engine.Training.EpochReport value) => report(value);
    }

    [Fact]
    public void A_task_named_in_a_flag_that_the_data_lacks_is_a_setup_error()
    {
        using var backend = new CpuBackend<float>();
        var e = Assert.Throws<ExperimentSetupException>(() => Experiment.Run(new ExperimentSettings
        {
            Epochs = 1, TaskWeights = new Dictionary<string, double> { ["heating"] = 2 },
        }, backend, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("'heating'", e.Message);
        Assert.Contains("heating_load", e.Message);
    }
}
