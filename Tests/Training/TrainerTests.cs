using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Metrics;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The trainer: epochs, reports, early stopping, cancellation, end-to-end learning on a problem with a known solution.</summary>
public class TrainerTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Synchronous progress (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Recorder(Action<EpochReport>? onReport = null) : IProgress<EpochReport>
    {
        public readonly List<EpochReport> Reports = [];
        public void Report(EpochReport value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    [Fact]
    public void Progress_gets_one_report_per_epoch_matching_the_history()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var progress = new Recorder();
        var trainer = new Trainer(new TrainerOptions { Epochs = 4, BatchSize = 16, Seed = 3 });
        var result = trainer.Fit(model, Problems.Data(40, seed: 1), Problems.Data(20, seed: 2), progress, Ct);

        Assert.Equal([1, 2, 3, 4], progress.Reports.Select(r => r.Epoch));
        Assert.All(progress.Reports, r => Assert.Equal(4, r.Epochs));
        Assert.Equal(result.History, progress.Reports);
        Assert.All(progress.Reports, r =>
        {
            Assert.Equal(3, r.Steps); // ⌈40/16⌉
            Assert.Equal(["reg", "cls"], r.Train.Select(m => m.Task));
            Assert.NotNull(r.Validation);
            Assert.True(r.GradientNorm > 0 && double.IsFinite(r.GradientNorm));
            Assert.Equal(model.Parameters.Slots.Select(s => s.Name), r.ParameterGradientNorms.Select(p => p.Parameter));
            Assert.Equal([1.0, 0.5], r.TaskWeights!);
            Assert.Null(r.TaskGradientCosines); // Sum: no per-task gradients
        });
        // The RMS of per-parameter norms recombines to the global norm: ‖g‖² = Σₛ‖gₛ‖² at every step, hence in the mean.
        foreach (var r in progress.Reports)
            Assert.Equal(r.GradientNorm, Math.Sqrt(r.ParameterGradientNorms.Sum(p => p.Norm * p.Norm)), 1e-5 * r.GradientNorm);
        Assert.Equal(4, result.BestEpoch);
        Assert.False(result.StoppedEarly);
    }

    [Fact]
    public void Early_stopping_restores_the_best_epochs_weights()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        // Validation regression targets are the negated training ones: as training fits the training set, the
        // validation loss rises after its best epoch.
        var train = Problems.Data(64, seed: 1);
        var validation = Problems.Data(32, seed: 2, flipRegression: true);
        var snapshots = new List<float[]>();
        var progress = new Recorder(_ => snapshots.Add(Cpu.ToArray(model.Parameters.Values)));
        var trainer = new Trainer(new TrainerOptions
        {
            Epochs = 30, BatchSize = 16, EarlyStoppingPatience = 3,
            Step = new StepOptions { LearningRate = 0.02 },
        });
        var result = trainer.Fit(model, train, validation, progress, Ct);

        var losses = result.History.Select(r => r.ValidationLoss!.Value).ToArray();
        int best = Array.IndexOf(losses, losses.Min()) + 1;
        Assert.True(result.StoppedEarly);
        Assert.True(result.RestoredBestWeights);
        Assert.Equal(best, result.BestEpoch);
        Assert.Equal(best + 3, result.History.Count);
        Assert.Equal(snapshots[best - 1], Cpu.ToArray(model.Parameters.Values));
        Assert.NotEqual(snapshots[^1], Cpu.ToArray(model.Parameters.Values));
        // The reported validation loss is Σ λᵢLᵢ of the validation metrics, and the weights now give the best one.
        Assert.Equal(losses[best - 1], Metrics.Metrics.Evaluate(model, validation).Select((m, t) => m.Loss * (t == 0 ? 1.0 : 0.5)).Sum(), 1e-5);
    }

    [Fact]
    public void Cancellation_stops_before_the_next_step_and_leaves_the_model_usable()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var train = Problems.Data(64, seed: 1);
        using var cts = new CancellationTokenSource();
        var progress = new Recorder(r => { if (r.Epoch == 2) cts.Cancel(); });
        float[]? afterEpoch2 = null;
        var recorder = new Recorder(r =>
        {
            progress.Report(r);
            if (r.Epoch == 2) afterEpoch2 = Cpu.ToArray(model.Parameters.Values);
        });
        var trainer = new Trainer(new TrainerOptions { Epochs = 50, BatchSize = 8 });

        Assert.ThrowsAny<OperationCanceledException>(() => trainer.Fit(model, train, null, recorder, cts.Token));

        Assert.Equal(2, progress.Reports.Count);
        Assert.Equal(afterEpoch2, Cpu.ToArray(model.Parameters.Values)); // no step ran after the cancellation
        var predictions = model.Predict(train.Inputs, train.Rows);
        Assert.All(predictions["reg"].Values, v => Assert.True(float.IsFinite(v)));
        var again = trainer.Fit(model, train, cancellationToken: Ct); // and it trains again
        Assert.Equal(50, again.History.Count);
    }

    [Fact]
    public void An_already_cancelled_token_throws_before_any_work()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var before = Cpu.ToArray(model.Parameters.Values);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new Trainer().Fit(model, Problems.Data(8, seed: 1), cancellationToken: new CancellationToken(canceled: true)));
        Assert.Equal(before, Cpu.ToArray(model.Parameters.Values));
    }

    /// <summary>
    /// A two-task problem with a known solution: reg = (x₀ + 2x₁ − x₂, x₃x₄ + 0.5), cls = argmax of three linear scores.
    /// An MLP reaches RMSE well below the targets' spread (≈ 1.4 and 0.33) and ≥ 90% accuracy on held-out rows.
    /// </summary>
    [Fact]
    public void End_to_end_two_tasks_reach_low_loss_on_the_cpu()
    {
        var spec = new ModelSpec(5, [32, 32], Problems.Spec().Heads) { Seed = 11 };
        using var model = MultiTaskModel.Create(spec, Cpu);
        var train = Problems.Data(512, seed: 1);
        var test = Problems.Data(256, seed: 2);
        var before = Metrics.Metrics.Evaluate(model, test);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = 60, BatchSize = 32, Seed = 5,
            Step = new StepOptions { LearningRate = 0.01, MaxGradNorm = 5 },
        }).Fit(model, train, test, cancellationToken: Ct);

        var after = result.History[^1].Validation!;
        Assert.True(after[0].Rmse < 0.12, $"regression RMSE {after[0].Rmse}");
        Assert.True(after[1].Accuracy > 0.9, $"accuracy {after[1].Accuracy}");
        Assert.True(after[0].Loss < before[0].Loss / 20, $"regression loss {before[0].Loss} → {after[0].Loss}");
        Assert.True(after[1].Loss < before[1].Loss / 3, $"cross-entropy {before[1].Loss} → {after[1].Loss}");
    }

    [Fact]
    public void End_to_end_with_pcgrad_and_dwa_learns_too()
    {
        var spec = new ModelSpec(5, [32], Problems.Spec().Heads) { Seed = 12 };
        using var model = MultiTaskModel.Create(spec, Cpu);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = 30, BatchSize = 32, Seed = 6,
            Step = new StepOptions { LearningRate = 0.01, Combination = CombinationMethod.PcGrad, Weighting = WeightingMethod.Dwa, Schedule = ScheduleKind.Cosine },
        }).Fit(model, Problems.Data(256, seed: 1), Problems.Data(128, seed: 2), cancellationToken: Ct);
        var first = result.History[0];
        var last = result.History[^1];
        Assert.True(last.ValidationLoss < first.ValidationLoss / 4, $"{first.ValidationLoss} → {last.ValidationLoss}");
        Assert.NotNull(last.TaskGradientCosines);
        Assert.NotNull(last.TaskGradientConflicts);
        Assert.Equal(2.0, last.TaskWeights!.Sum(), 5);  // DWA's weights sum to T
        Assert.True(last.LearningRate < 1e-4);        // cosine schedule over the whole run
        int steps = result.History.Sum(r => (int)r.Steps);
        Assert.Equal(30 * 8, steps);
        Assert.True(last.TaskGradientConflicts![0, 1] <= last.Steps);
    }

    /// <summary>The ILGPU kernels (on ILGPU's CPU accelerator, or CUDA where present): three PCGrad steps with clipping
    /// agree with the SIMD CPU path within float32 tolerance (different summation orders).</summary>
    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Steps_on_the_ilgpu_kernels_match_the_cpu_path(string device)
    {
        var ilgpu = TestDevices.Get(device);
        var spec = Problems.Spec();
        var data = Problems.Data(8, seed: 3);
        using var a = MultiTaskModel.Create(spec, Cpu);
        using var b = MultiTaskModel.Create(spec, ilgpu);
        var options = new StepOptions { LearningRate = 0.01, Combination = CombinationMethod.PcGrad, MaxGradNorm = 1 };
        using var da = DeviceDataset.Upload(a, data);
        using var db = DeviceDataset.Upload(b, data);
        using var sa = new TrainingStep(a, options, 8);
        using var sb = new TrainingStep(b, options, 8);
        for (int s = 0; s < 3; s++) { sa.Run(da, 0, 8); sb.Run(db, 0, 8); }
        Tolerance.AllClose(Tolerance.ToDouble(Cpu.ToArray(a.Parameters.Values)), ilgpu.ToArray(b.Parameters.Values), 1e-4, 1e-5, "parameters");
        var ma = sa.ReadStatistics().Tasks;
        var mb = sb.ReadStatistics().Tasks;
        for (int t = 0; t < 2; t++) Assert.Equal(ma[t].Loss, mb[t].Loss, 1e-5);
        Assert.Equal(ma[1].Accuracy, mb[1].Accuracy);
    }
}
