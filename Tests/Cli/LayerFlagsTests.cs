using Engine.Checkpoints;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Experiments;

namespace Engine.Tests.Cli;

/// <summary>
/// <c>mtl train --dropout P</c> and <c>--layer-norm</c>: the model trains, the checkpoint's spec carries the layers (so
/// <c>predict</c> and <c>evaluate</c> rebuild them, dropout off), and a probability outside [0, 1) is a usage error (exit 2)
/// naming the flag.
/// </summary>
public class LayerFlagsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("--arch", "shared-bottom", "--hidden", "16,8")]
    [InlineData("--arch", "mmoe", "--experts", "2", "--expert-hidden", "8", "--tower", "4", "--layer-norm")]
    public void Train_with_dropout_saves_it_in_the_spec_and_evaluate_runs_without_it(params string[] arch)
    {
        var model = _dir.File_("model.safetensors");
        var trained = Mtl.Run(["train", .. arch, "--dropout", "0.2", "--epochs", "2", "--device", "cpu", "--save", model]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var spec = ModelSpec.FromJson(Checkpoint.Load(model).ConfigJson!);
        Assert.Equal(0.2, spec.Dropout);
        Assert.Equal(arch.Contains("--layer-norm"), spec.LayerNorm);
        using (var loaded = MultiTaskModel.Load(model, new CpuBackend<float>())) Assert.Equal(0.2, loaded.Spec.Dropout);
        var r = Mtl.Run("evaluate", "--model", model, "--data", BundledPaths.EnergyEfficiency, "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.ToString());
    }

    [Theory]
    [InlineData("1")]
    [InlineData("-0.5")]
    [InlineData("1.5")]
    public void A_dropout_outside_0_1_is_a_usage_error_naming_the_flag(string p) =>
        Mtl.AssertFails(Mtl.Run("train", "--dropout", p, "--epochs", "1"), 2, "--dropout", "[0, 1)");
}
