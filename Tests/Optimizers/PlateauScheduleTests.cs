using System.Text.Json;
using Engine.Optimizers;
using Engine.Tests.Cli;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Optimizers;

/// <summary>
/// Reduce-on-plateau against PyTorch 1.13's <c>ReduceLROnPlateau</c> (Tests/Fixtures/plateau_torch.json, made by
/// make_plateau_fixture.py): two parameter groups, four configurations (patience, cooldown, threshold, min_lr, a base
/// rate below min_lr), 35 epoch losses with plateaus, sub-threshold gains and a NaN; the rates must be equal to the bit.
/// Then in the trainer: the rate each epoch reports follows the rule applied to the losses it reports.
/// </summary>
public class PlateauScheduleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<int> Cases() => [0, 1, 2, 3];

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_rates_equal_pytorchs_bit_for_bit(int index)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("plateau_torch.json"))).RootElement;
        double[] bases = [.. root.GetProperty("bases").EnumerateArray().Select(v => v.GetDouble())];
        double[] losses = [.. root.GetProperty("losses").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? double.NaN : v.GetDouble())];
        var c = root.GetProperty("cases")[index];
        var schedule = new PlateauSchedule(c.GetProperty("factor").GetDouble(), c.GetProperty("patience").GetInt32(),
            c.GetProperty("threshold").GetDouble(), c.GetProperty("cooldown").GetInt32(), c.GetProperty("min_lr").GetDouble());
        var lrs = c.GetProperty("lrs");
        int reductions = 0;
        for (int e = 0; e < losses.Length; e++)
        {
            if (schedule.Observe(losses[e])) reductions++;
            for (int g = 0; g < bases.Length; g++)
                Assert.Equal(lrs[e][g].GetDouble(), schedule.LearningRate(bases[g], step: 1000 + e));
        }
        Assert.Equal(reductions, schedule.Reductions);
        Assert.True(reductions >= 2, "the fixture exercises several reductions");
    }

    [Fact]
    public void Bad_settings_are_refused_by_name()
    {
        Assert.Throws<ArgumentOutOfRangeException>("factor", () => new PlateauSchedule(factor: 1));
        Assert.Throws<ArgumentOutOfRangeException>("patience", () => new PlateauSchedule(patience: -1));
        Assert.Throws<ArgumentOutOfRangeException>("threshold", () => new PlateauSchedule(threshold: double.NaN));
    }

    [Fact]
    public void The_trainer_reduces_the_rate_after_the_reported_losses_stop_improving()
    {
        // A large relative threshold makes the training loss "stop improving" early, so reductions happen in 12 epochs.
        var options = new TrainerOptions
        {
            Epochs = 12, BatchSize = 0,
            Step = new StepOptions { LearningRate = 0.05, Schedule = ScheduleKind.Plateau, ScheduleGamma = 0.5, PlateauPatience = 1, PlateauThreshold = 0.2 },
        };
        using var model = MultiTaskModel.Create(Problems.Spec(), new Engine.Kernels.Cpu.CpuBackend<float>());
        var history = new Trainer(options).Fit(model, Problems.Data(32, seed: 2), cancellationToken: Ct).History;

        // The rule, written apart: better ⇔ loss < best·(1 − 0.2); more than 1 bad epoch ⇒ lr·0.5 from the next epoch on.
        double best = double.PositiveInfinity, lr = 0.05;
        int bad = 0, reductions = 0;
        foreach (var epoch in history)
        {
            Assert.Equal(lr, epoch.LearningRate, 12);
            if (epoch.TrainLoss < best * 0.8) { best = epoch.TrainLoss; bad = 0; } else bad++;
            if (bad > 1) { lr *= 0.5; bad = 0; reductions++; }
        }
        Assert.True(reductions >= 1, "the run must reduce at least once for the test to tell");
    }

    [Fact]
    public void The_cli_takes_the_plateau_flags_and_refuses_a_factor_of_one_or_more()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        var ok = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--schedule", "plateau", "--gamma", "0.5", "--plateau-patience", "0", "--plateau-threshold", "0.5", "--report", "-"]);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--schedule", "plateau", "--gamma", "1.5"]), Engine.Cli.ExitCodes.Usage,
            "--gamma 1.5", "plateau schedule's factor must lie in (0, 1)");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--schedule", "plateau", "--plateau-patience", "-1"]), Engine.Cli.ExitCodes.Usage,
            "--plateau-patience");
    }

    [Fact]
    public void Restore_continues_the_saved_plateau_and_refuses_impossible_values()
    {
        var a = new PlateauSchedule(0.5, patience: 1, threshold: 0.01, cooldown: 2);
        foreach (double m in new[] { 1.0, 0.9, 0.95, 0.97, 0.99, 0.98 }) a.Observe(m);
        Assert.True(a.Reductions > 0);
        var saved = a.SaveState().ToDictionary(e => e.Key, e => e.Value);
        Assert.Equal(PlateauSchedule.StateNames, saved.Keys);
        var b = new PlateauSchedule(0.5, patience: 1, threshold: 0.01, cooldown: 2);
        b.Restore(saved[PlateauSchedule.BestName], saved[PlateauSchedule.BadEpochsName], saved[PlateauSchedule.CooldownLeftName], saved[PlateauSchedule.ReductionsName]);
        Assert.Equal((a.Best, a.BadEpochs, a.CooldownLeft, a.Reductions), (b.Best, b.BadEpochs, b.CooldownLeft, b.Reductions));
        foreach (double m in new[] { 0.97, 0.96, 0.99, 0.5, 0.6, 0.7, 0.8 })
        {
            Assert.Equal(a.Observe(m), b.Observe(m));
            Assert.Equal(a.LearningRate(0.1, 0), b.LearningRate(0.1, 0));
        }

        var before = (b.Best, b.BadEpochs, b.CooldownLeft, b.Reductions);
        Assert.Throws<ArgumentException>(() => b.Restore(double.NaN, 0, 0, 0));
        Assert.Throws<ArgumentException>(() => b.Restore(double.NegativeInfinity, 0, 0, 0));
        Assert.Throws<ArgumentException>(() => b.Restore(1, 0, 3, 0));   // more cooldown left than the cooldown
        Assert.Throws<ArgumentException>(() => b.Restore(1, 0.5, 0, 0));
        Assert.Throws<ArgumentException>(() => b.Restore(1, 0, 0, -1));
        Assert.Equal(before, (b.Best, b.BadEpochs, b.CooldownLeft, b.Reductions)); // nothing changed
    }
}
