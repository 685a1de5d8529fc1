using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Cli;
using Engine.Cli.Output;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>What goes where: results on stdout, progress and status on stderr, <c>--json</c> / <c>--report -</c>,
/// the progress bar's width, and <c>mtl devices</c> on the same device error path as <c>train</c>.</summary>
public partial class CliOutputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Train_prints_tables_on_stdout_and_one_progress_line_per_epoch_on_stderr()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var r = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--save", _dir.File_("m.safetensors")]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var epochLines = r.ErrorLines.Where(l => l.StartsWith("multi-task: epoch ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Enumerable.Range(1, 40).Select(e => $"multi-task: epoch {e}/40"), epochLines.Select(l => l[..l.IndexOf("  ", StringComparison.Ordinal)]));
        Assert.Contains(r.ErrorLines, l => l.StartsWith("train.csv: 80 rows", StringComparison.Ordinal));
        Assert.Contains(r.ErrorLines, l => l.StartsWith("Device: ", StringComparison.Ordinal));
        Assert.Contains(r.ErrorLines, l => l.StartsWith("Saved the model to ", StringComparison.Ordinal));
        Assert.DoesNotContain("epoch", r.Output);
        Assert.DoesNotContain("Saved", r.Output);
        Assert.Contains("│ y ", r.Output);     // the table
        Assert.Contains("│ label ", r.Output);
    }

    [Theory]
    [InlineData("--json")]
    [InlineData("--report", "-")]
    public void The_report_on_stdout_is_the_only_thing_there_and_is_the_report(params string[] flags)
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var r = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), .. flags]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(File.Exists(Path.Combine(Environment.CurrentDirectory, "-")), "--report - wrote a file named '-'");
        using var json = JsonDocument.Parse(r.Output); // the whole of stdout is one JSON document
        var test = json.RootElement.GetProperty("metrics").GetProperty("test");
        Assert.Equal(["y", "label"], test.EnumerateArray().Select(t => t.GetProperty("task").GetString()));
        Assert.Equal(40, json.RootElement.GetProperty("history").GetArrayLength());
        Assert.Contains("multi-task: epoch 40/40", r.Error);
    }

    [Fact]
    public void Train_plots_draws_the_charts_into_the_folder()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var plots = _dir.File_("plots");
        var r = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--combine", "pcgrad", "--plots", plots]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Drew 5 charts into", r.Error);
        foreach (var chart in Engine.Plots.TrainingPlots.Charts)
            foreach (var extension in new[] { "png", "svg" })
                Assert.True(new FileInfo(Path.Combine(plots, $"{chart}.{extension}")) is { Exists: true, Length: > 1000 }, $"{chart}.{extension}");
    }

    [Fact]
    public void Json_and_report_to_stdout_together_are_a_usage_error()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--json", "--report", "-"]), ExitCodes.Usage, "--json", "--report -");
    }

    [Fact]
    public void Evaluate_report_dash_prints_the_json_instead_of_the_table()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var model = _dir.File_("m.safetensors");
        Assert.Equal(0, Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--save", model]).ExitCode);
        var r = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", "-");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var json = JsonDocument.Parse(r.Output);
        Assert.Equal(80, json.RootElement.GetProperty("rows").GetInt32());
        Assert.Contains("train.csv: 80 rows", r.Error);
    }

    [Theory]
    [InlineData(80)]
    [InlineData(60)]
    public void The_live_progress_bar_fits_the_terminal_width(int columns)
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var error = new StringWriter(CultureInfo.InvariantCulture);
        var context = new CliContext(new StringWriter(CultureInfo.InvariantCulture), error, interactive: false, errorInteractive: true,
            TestContext.Current.CancellationToken);
        context.ErrorConsole.Profile.Width = columns;
        var settings = new Engine.Experiments.ExperimentSettings
        {
            DataPath = csv, Regression = ["y"], Classification = ["label"], Categorical = ["shade"], Epochs = 20, BatchSize = 16,
            TestFraction = 0.25, ValidationFraction = 0.25, Device = "cpu",
        };
        Assert.Equal(0, Engine.Cli.Commands.TrainCommand.Run(context, settings));
        var rendered = AnsiEscape().Replace(error.ToString(), "");
        var barLines = rendered.Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("multi-task", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(barLines);
        Assert.Contains(barLines, l => l.Contains("multi-task 20/20", StringComparison.Ordinal));
        foreach (var line in barLines) Assert.True(line.TrimEnd().Length <= columns, $"{line.TrimEnd().Length} > {columns} columns: '{line}'");
    }

    [Fact]
    public void A_task_without_a_loss_shows_no_training_loss_and_keeps_its_validation_score()
    {
        var train = new[]
        {
            new Engine.Metrics.TaskMetrics("click", Engine.Data.TaskKind.Binary, 0.25, null, null, 0.9, 10),
            new Engine.Metrics.TaskMetrics("conversion", Engine.Data.TaskKind.Binary, 0, null, null, null, 0),
        };
        var validation = new[] { train[0] with { Loss = 0.5 }, train[1] with { Loss = 0.75, Labelled = 4 } };
        var e = new Engine.Training.EpochReport(3, 5, train, validation, 1.0, [], null, null, TimeSpan.Zero);
        Assert.Equal("click 0.25  conversion no loss  | validation click 0.5  conversion 0.75", TrainingProgress.Describe(e, ["conversion"]));
        Assert.Equal("click 0.25  conversion 0  | validation click 0.5  conversion 0.75", TrainingProgress.Describe(e));
    }

    [Fact]
    public void Fit_cuts_a_description_to_the_width_it_is_given()
    {
        Assert.Equal("abc", TrainingProgress.Fit("abc", 5));
        Assert.Equal("abcd…", TrainingProgress.Fit("abcdefgh", 5));
    }

    [Fact]
    public void Devices_with_ENGINE_DEVICE_cuda_and_no_gpu_exits_3_like_train()
    {
        if (Engine.Kernels.Device.Describe().Any(d => d.Kind == Engine.Kernels.BackendKind.Cuda))
            Assert.Skip("this machine has a CUDA device: ENGINE_DEVICE=cuda opens it");
        foreach (var command in new[] { "devices", "train --epochs 1" })
        {
            var (code, stderr) = RunMtlProcess(command, ("ENGINE_DEVICE", "cuda"));
            Assert.True(code == ExitCodes.DeviceUnavailable, $"mtl {command}: exit {code}: {stderr}");
            Assert.Contains("mtl: error: ENGINE_DEVICE=cuda: Device 'cuda' is not available", stderr);
        }
    }

    /// <summary>Runs the built mtl.dll (beside the tests) in its own process, with extra environment variables.</summary>
    private static (int Code, string Error) RunMtlProcess(string arguments, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet", $"\"{Path.Combine(AppContext.BaseDirectory, "mtl.dll")}\" {arguments}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stderr.Result);
    }

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")] private static partial Regex AnsiEscape();
}
