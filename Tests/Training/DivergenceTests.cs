using Engine.Checkpoints;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Divergence in the library: <see cref="Trainer.Fit"/> throws <see cref="TrainingDivergedException"/> as soon as an
/// epoch's loss is NaN/±∞ or above <see cref="TrainerOptions.MaxLoss"/>; a model holding NaN/±∞ is never saved over a
/// file; <see cref="MultiTaskModel.WriteParameter"/> and weight loading reject non-finite values.
/// </summary>
public class DivergenceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(OptimizerKind.Adam, null)]
    [InlineData(OptimizerKind.Sgd, null)]
    [InlineData(OptimizerKind.Adam, 1.0)]
    public void A_huge_learning_rate_throws_at_the_first_diverged_epoch(OptimizerKind optimizer, double? clip)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var options = new TrainerOptions
        {
            Epochs = 50, BatchSize = 16, MaxLoss = 1e6,
            Step = new StepOptions { Optimizer = optimizer, LearningRate = 1e6, MaxGradNorm = clip },
        };
        var epochs = new List<EpochReport>();
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(options).Fit(model, Problems.Data(64, seed: 1), progress: new Collect(epochs), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("diverged at epoch", e.Message);
        Assert.NotNull(e.Task);
        Assert.Equal(epochs.Count, e.Epoch);                       // it stopped right there, not after 50 epochs
        Assert.True(e.Epoch < 50);
        Assert.True(!double.IsFinite(e.Loss!.Value) || e.Loss > 1e6, $"loss {e.Loss}");
    }

    [Fact]
    public void A_normal_run_does_not_trip_the_bound()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var result = new Trainer(new TrainerOptions { Epochs = 5, BatchSize = 16, MaxLoss = 1e6 }).Fit(model, Problems.Data(64, seed: 1), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(5, result.History.Count);
    }

    [Fact]
    public void A_finite_loss_above_the_bound_is_divergence_too()
    {
        // The bound is a plain threshold: with MaxLoss far below the first epoch's loss (about 1), epoch 1 trips it.
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var e = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(new TrainerOptions { Epochs = 3, BatchSize = 16, MaxLoss = 1e-6 }).Fit(model, Problems.Data(64, seed: 1), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(1, e.Epoch);
        Assert.Contains("above the bound", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(new TrainerOptions { MaxLoss = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(new TrainerOptions { MaxLoss = double.NaN }));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void A_model_holding_a_non_finite_value_is_never_saved_over_a_good_file(float bad)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        var path = _dir.File_("m.safetensors");
        model.Save(path);
        var good = File.ReadAllBytes(path);

        // Corrupt one weight on the device directly (WriteParameter would refuse it).
        var slot = model.Parameters["heads.cls.weight"];
        var values = model.ReadParameter("heads.cls.weight");
        values[4] = bad;
        cpu.Upload<float>(values, model.Parameters.ValuesOf(slot));

        var e = Assert.Throws<TrainingDivergedException>(() => model.Save(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("heads.cls.weight", e.Message);
        Assert.Contains("element 4", e.Message);
        Assert.Equal(good, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
        Assert.Throws<TrainingDivergedException>(() => model.ToCheckpoint());
    }

    [Fact]
    public void WriteParameter_and_LoadWeights_reject_non_finite_values()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var before = model.ReadParameter("trunk.0.weight");
        var values = (float[])before.Clone();
        values[7] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => model.WriteParameter("trunk.0.weight", values));
        Assert.Contains("trunk.0.weight", e.Message);
        Assert.Contains("element 7", e.Message);
        Assert.Equal(before, model.ReadParameter("trunk.0.weight"));

        var file = model.ToCheckpoint().Tensors;
        var weight = file["trunk.0.bias"].ToFloat32();
        weight[0] = float.PositiveInfinity;
        file.Remove("trunk.0.bias");
        file.Add("trunk.0.bias", SafeTensor.FromFloat32(weight, weight.Length));
        var load = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(file));
        Assert.Contains("finite", load.Message);
    }

    private sealed class Collect(List<EpochReport> into) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => into.Add(value);
    }
}
