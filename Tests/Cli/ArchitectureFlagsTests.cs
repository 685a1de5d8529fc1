using System.Text.Json;
using Engine.Checkpoints;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Experiments;

namespace Engine.Tests.Cli;

/// <summary>
/// <c>mtl train --arch …</c>: every architecture trains on the bundled energy data through the CLI entry point, the report
/// and the checkpoint carry the architecture, <c>evaluate</c> of the saved model gives the report's metrics (the model is
/// rebuilt from the checkpoint alone), and a flag that does not fit the architecture is a usage error naming it.
/// </summary>
public class ArchitectureFlagsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string[], string> Architectures => new()
    {
        { ["--arch", "shared-bottom", "--hidden", "16"], """{"kind":"shared-bottom"}""" },
        { ["--arch", "mmoe", "--experts", "3", "--expert-hidden", "8,8", "--tower", "4"], """{"kind":"mmoe","experts":3}""" },
        { ["--arch", "omoe", "--experts", "2", "--expert-hidden", "8"], """{"kind":"omoe","experts":2}""" },
        { ["--arch", "cgc", "--experts", "2", "--task-experts", "1", "--expert-hidden", "8"], """{"kind":"cgc","experts":2,"taskExperts":1}""" },
        { ["--arch", "ple", "--experts", "1", "--task-experts", "2", "--levels", "2", "--expert-hidden", "8", "--tower", "4,4"], """{"kind":"ple","experts":1,"taskExperts":2,"levels":2}""" },
        { ["--arch", "ple"], """{"kind":"ple","experts":2,"taskExperts":1,"levels":2}""" }, // the records' defaults
        { ["--arch", "dselect-k", "--experts", "4", "--top-k", "2", "--smooth-step-gamma", "0.5", "--entropy-reg", "0.01", "--expert-hidden", "8"],
            """{"kind":"dselect-k","experts":4,"topK":2,"smoothStepGamma":0.5,"entropyReg":0.01}""" },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Each_architecture_trains_saves_and_evaluates_to_the_same_metrics(string[] arch, string expectedArchitecture)
    {
        var model = _dir.File_("model.safetensors");
        var trainReport = _dir.File_("train.json");
        var evalReport = _dir.File_("eval.json");
        // --test 0: every row trains, so evaluating the whole file must give the report's train metrics.
        var trained = Mtl.Run(["train", .. arch, "--epochs", "2", "--test", "0", "--device", "cpu", "--save", model, "--report", trainReport]);
        Assert.True(trained.ExitCode == 0, trained.ToString());

        using var a = JsonDocument.Parse(File.ReadAllText(trainReport));
        Assert.Equal(expectedArchitecture, a.RootElement.GetProperty("settings").GetProperty("architecture").GetRawText().Replace(" ", "").Replace("\n", "").Replace("\r", ""));
        int towerAt = Array.IndexOf(arch, "--tower");
        int[]? tower = towerAt < 0 ? null : arch[towerAt + 1].Split(',').Select(int.Parse).ToArray();

        // The checkpoint alone rebuilds the model: its spec names the architecture and the towers.
        var config = Checkpoint.Load(model).ConfigJson!;
        Assert.Contains($"\"architecture\":{expectedArchitecture}", config);
        var spec = ModelSpec.FromJson(config);
        Assert.Equal(tower ?? [], spec.TowerWidths);
        using (var loaded = MultiTaskModel.Load(model, new CpuBackend<float>()))
            Assert.Equal(spec.Architecture, loaded.Spec.Architecture);

        var r = Mtl.Run("evaluate", "--model", model, "--data", BundledPaths.EnergyEfficiency, "--device", "cpu", "--report", evalReport);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var b = JsonDocument.Parse(File.ReadAllText(evalReport));
        var expected = a.RootElement.GetProperty("metrics").GetProperty("train").EnumerateArray().ToArray();
        var actual = b.RootElement.GetProperty("metrics").EnumerateArray().ToArray();
        Assert.Equal(2, expected.Length);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            foreach (var metric in new[] { "loss", "rmse", "mae" })
                // Same rows in another order: equal up to float64 summation order.
                Assert.Equal(expected[i].GetProperty(metric).GetDouble(), actual[i].GetProperty(metric).GetDouble(), 9);

        var predicted = Mtl.Run("predict", "--model", model, "--data", BundledPaths.EnergyEfficiency, "--device", "cpu");
        Assert.True(predicted.ExitCode == 0, predicted.ToString());
        Assert.Equal(769, predicted.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header + 768 rows
    }

    [Theory]
    [InlineData(new[] { "--arch", "mmoe", "--levels", "2" }, "--levels does not apply to --arch mmoe", "ple")]
    [InlineData(new[] { "--arch", "shared-bottom", "--experts", "4" }, "--experts does not apply to --arch shared-bottom", "mmoe")]
    [InlineData(new[] { "--arch", "omoe", "--task-experts", "1" }, "--task-experts does not apply to --arch omoe", "cgc")]
    [InlineData(new[] { "--arch", "shared-bottom", "--expert-hidden", "8" }, "--expert-hidden does not apply to --arch shared-bottom", "--hidden")]
    [InlineData(new[] { "--arch", "mmoe", "--hidden", "8" }, "--hidden does not apply to --arch mmoe", "--expert-hidden")]
    [InlineData(new[] { "--arch", "mmoe", "--experts", "0" }, "--experts", "positive")]
    [InlineData(new[] { "--arch", "ple", "--levels", "two" }, "--levels", "'two'")]
    [InlineData(new[] { "--arch", "dselect-k", "--experts", "6" }, "--experts", "power of 2")]
    [InlineData(new[] { "--arch", "mmoe", "--top-k", "2" }, "--top-k does not apply to --arch mmoe", "dselect-k")]
    [InlineData(new[] { "--arch", "cgc", "--tower", "4,x" }, "--tower", "'x'")]
    [InlineData(new[] { "--arch", "mmoe", "--expert-hidden", "0" }, "--expert-hidden", "'0'")]
    public void A_flag_that_does_not_fit_the_architecture_is_a_usage_error_naming_it(string[] flags, string fragment, string hint)
    {
        var save = _dir.File_("never.safetensors");
        Mtl.AssertFails(Mtl.Run(["train", .. flags, "--epochs", "1", "--save", save]), 2, fragment, hint);
        Assert.False(File.Exists(save));
    }

    [Fact]
    public void An_unknown_architecture_is_a_usage_error_listing_the_known_ones()
    {
        var r = Mtl.Run("train", "--arch", "transformer", "--epochs", "1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("transformer", r.Error);
        Assert.Contains("mmoe", r.Error);
    }

    [Fact]
    public void Help_lists_the_architecture_flags_with_the_architectures_they_apply_to()
    {
        var r = Mtl.Run("train", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var flag in new[] { "--arch", "--experts", "--task-experts", "--levels", "--expert-hidden", "--tower" })
            Assert.Contains(flag, r.Output);
        foreach (var name in Architecture.Known.Keys) Assert.Contains(name, r.Output);
        Assert.Contains("--arch ple (default 2)", r.Output);
    }

    [Fact]
    public void Every_constructor_parameter_of_every_architecture_is_a_flag()
    {
        var help = Mtl.Run("train", "--help").Output;
        foreach (var type in Architecture.Known.Values)
            foreach (var parameter in type.GetConstructors().SelectMany(c => c.GetParameters()).Where(p => p.ParameterType != type))
                Assert.Contains(Engine.Cli.Commands.ArchitectureFlags.Flag(parameter.Name!) + " <", help);
    }
}
