using Engine.Kernels.Cpu;
using Engine.Metrics;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>The per-epoch history stays bounded: at most MaxHistory reports, evenly spaced, the last always kept.</summary>
public class HistoryTests
{
    private static EpochReport Report(int epoch, int epochs) =>
        new(epoch, epochs, Array.Empty<TaskMetrics>(), null, 0, [], null, null, TimeSpan.Zero);

    [Fact]
    public void A_million_epochs_keep_at_most_the_capacity_evenly_spaced()
    {
        const int epochs = 1_000_000, capacity = 1000;
        var history = new EpochHistory(capacity);
        for (int e = 1; e <= epochs; e++) history.Add(Report(e, epochs));
        var kept = history.Reports();
        Assert.Equal(epochs, history.Epochs);
        Assert.Equal(1024, history.Stride);                         // 10⁶ / 1024 = 976 < 1000 ≤ 10⁶ / 512
        Assert.Equal(epochs / 1024 + 1, kept.Count);                // every 1024th epoch, and the last
        Assert.True(kept.Count <= capacity + 1);
        Assert.All(kept.SkipLast(1), r => Assert.Equal(0, r.Epoch % 1024));
        Assert.Equal(epochs, kept[^1].Epoch);
        Assert.Equal(Enumerable.Range(1, kept.Count - 1).Select(i => i * 1024), kept.SkipLast(1).Select(r => r.Epoch));
    }

    [Fact]
    public void A_short_run_keeps_every_epoch()
    {
        var history = new EpochHistory(10);
        for (int e = 1; e <= 9; e++) history.Add(Report(e, 9));
        Assert.Equal(Enumerable.Range(1, 9), history.Reports().Select(r => r.Epoch));
        Assert.Equal(1, history.Stride);
    }

    [Fact]
    public void The_trainer_reports_the_epochs_run_and_the_stride()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var result = new Trainer(new TrainerOptions { Epochs = 50, BatchSize = 0, MaxHistory = 8 })
            .Fit(model, Problems.Data(32, seed: 1), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(50, result.Epochs);
        Assert.Equal(8, result.HistoryStride);                       // 50 epochs: stride 8 keeps 8, 16, …, 48 (6 < 8)
        Assert.Equal([8, 16, 24, 32, 40, 48, 50], result.History.Select(r => r.Epoch));
        Assert.True(result.History[^1].SinceStart >= result.History[0].SinceStart);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(new TrainerOptions { MaxHistory = 1 }));
    }
}
