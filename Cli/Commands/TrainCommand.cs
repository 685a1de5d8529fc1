using System.CommandLine;
using System.Globalization;
using Engine.Cli.Output;
using Engine.Data;
using Engine.Experiments;
using Engine.Training;
using Spectre.Console;

namespace Engine.Cli.Commands;

/// <summary>
/// <c>mtl train</c>: the experiment pipeline (<see cref="Experiment"/>) with a progress bar, a metrics table at the
/// end, and optionally a saved model (<c>--save</c>) and a JSON report (<c>--report</c>). With no flags it trains
/// the bundled energy-efficiency data (heating and cooling load).
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliContext context)
    {
        var flags = new TrainFlags();
        var json = new Option<bool>("--json") { Description = "Print the report (settings, metrics, history) as JSON on stdout instead of the tables." };
        var plots = new Option<string?>("--plots")
            { Description = "Draw the training curves, gradient norms, task weights and task-gradient cosines into this folder (PNG and SVG).", HelpName = "DIR" };
        var command = new Command("train", "Train a multi-task model on a CSV file (default: the bundled energy-efficiency data) and report per-task metrics.");
        flags.AddTo(command);
        command.Add(json);
        command.Add(plots);
        command.SetAction(parsed => Run(context, flags.Bind(parsed), new OutputOptions(parsed.GetValue(json), parsed.GetValue(plots))));
        return command;
    }

    /// <summary>How the results are shown (not part of the experiment's settings).</summary>
    /// <param name="Json">The report as JSON on stdout instead of the tables.</param>
    /// <param name="PlotsDirectory">Where to draw the training plots (null: none).</param>
    internal sealed record OutputOptions(bool Json = false, string? PlotsDirectory = null);

    internal static int Run(CliContext context, ExperimentSettings settings, OutputOptions? show = null)
    {
        show ??= new OutputOptions();
        if (settings.ReportPath == "-" && show.Json)
            throw new UsageException("--json and --report - both print the report on stdout: give one of them.");
        new CommandFiles()
            .Reads("--data", settings.DataPath ?? PreparedData.BundledPath(BundledDatasets.EnergyEfficiencyFile)).Reads("--init-weights", settings.InitWeights)
            .Writes("--save", settings.SavePath).Writes("--report", settings.ReportPath)
            .Check();
        var data = Load(settings);
        using var backend = Devices.Open(settings.Device);
        var console = context.Console;
        context.Status(Summary(data));
        context.Status($"Device: {backend.Info}");

        using var outcome = TrainingProgress.Run(context, progress =>
        {
            try { return Experiment.Run(settings, data, backend, progress, context.Cancellation); }
            catch (ExperimentSetupException e) { throw new BadInputException(e.Message, e); }
        });
        var report = outcome.Report;
        foreach (var score in report.Metrics.Train)
            if (!double.IsFinite(score.Loss))
                throw new TrainingDivergedException($"training diverged: the final training loss of task '{score.Task}' is {score.Loss}.");

        context.Status(string.Create(CultureInfo.InvariantCulture,
            $"Trained {report.History.Count} epochs in {report.Seconds:F1} s{(report.StoppedEarly ? $" (stopped early; weights of epoch {report.BestEpoch})" : "")}."));
        bool reportToStdout = show.Json || settings.ReportPath == "-";
        if (reportToStdout)
            context.Output.WriteLine(report.ToJson());
        else
        {
            console.Write(MetricsTables.Scores(report.Metrics));
            if (report.Baselines is { } baselines) console.Write(MetricsTables.Gains(baselines));
        }

        if (settings.SavePath is { } save)
        {
            outcome.SaveModel(save);
            context.Status($"Saved the model to {save}.");
        }
        if (show.PlotsDirectory is { } plotsDirectory && outcome.Training is { } training)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var drawn = Engine.Plots.TrainingPlots.Write(training, plotsDirectory);
            context.Status(string.Create(CultureInfo.InvariantCulture,
                $"Drew {drawn.Files.Count / 2} charts into {plotsDirectory} (PNG and SVG) in {watch.Elapsed.TotalSeconds:F2} s."));
            foreach (var skipped in drawn.Skipped) context.Status($"Not drawn: {skipped}.");
        }
        if (settings.ReportPath is { } path && path != "-")
        {
            report.Save(path);
            context.Status($"Wrote the report to {path}.");
        }
        return ExitCodes.Ok;
    }

    /// <summary>Reads, splits and standardizes the data; a schema that does not fit the file is bad input.</summary>
    private static PreparedData Load(ExperimentSettings settings)
    {
        try { return PreparedData.Load(settings); }
        catch (ExperimentSetupException e) { throw new BadInputException(e.Message, e); }
    }

    private static string Summary(PreparedData data)
    {
        var tasks = string.Join(", ", data.All.Tasks.Select(t => t is ClassTargets c ? $"{t.Name} (classification, {c.ClassCount} classes)" : $"{t.Name} (regression)"));
        return $"{Path.GetFileName(data.All.Source)}: {data.All.RowCount} rows, {data.All.InputCount} inputs; tasks: {tasks}; " +
               $"split {data.Split.Train.Length}/{data.Split.Validation.Length}/{data.Split.Test.Length} rows (train/validation/test).";
    }
}
