using System.CommandLine;
using System.Globalization;
using Engine.Cli.Output;
using Engine.Data;
using Engine.Distributed;
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
            .Writes("--save", settings.SavePath).Writes("--report", settings.ReportPath == "-" ? null : settings.ReportPath) // "-": stdout
            .Check();
        if (settings.Distributed == "none") return Train(context, settings, show, mpi: null);
        // Data-parallel: every rank runs the same command; rank 0 alone prints and writes files. A rank that fails
        // prints its one error line (naming the rank) and aborts the job, so no rank waits forever in a collective.
        using var mpi = DistributedRun.OpenMpi();
        // Ranks other than 0 print nothing (not even progress or status); their errors still go to stderr, below.
        var rankContext = mpi.Rank == 0 ? context : new CliContext(TextWriter.Null, TextWriter.Null, false, false, context.Cancellation);
        try { return Train(rankContext, settings, show, mpi); }
        catch (Exception e) when (mpi.Size > 1)
        {
            var (code, message) = App.Classify(e);
            context.Error.WriteLine($"mtl: error: {DistributedJob.RankPrefix(mpi)}{message}");
            context.Error.Flush();
            mpi.Abort(code);
            return code;
        }
    }

    private static int Train(CliContext context, ExperimentSettings settings, OutputOptions show, ICommunicator? mpi)
    {
        // --plots: load and compile the drawing code on a background thread while the data loads and the model trains, then
        // draw on the thread pool as soon as the model is trained, while the splits are scored and the tables printed.
        var plots = show.PlotsDirectory is { } directory && mpi is not { Rank: not 0 } ? new BackgroundPlots(directory) : null;
        try { return Train(context, settings, show, mpi, plots); }
        finally { plots?.Finish(); }   // a failure after training: the drawing ends before the process does (no half-written file)
    }

    /// <summary>The charts of <c>--plots</c>: the warm-up started with training, the drawing started once it is trained.</summary>
    private sealed class BackgroundPlots(string directory)
    {
        private readonly Task _warmUp = Engine.Plots.TrainingPlots.WarmUp();
        private Task<(Engine.Plots.PlotFiles Drawn, double Seconds)>? _drawing;

        public string Directory => directory;

        public void Start(TrainingResult training) => _drawing = Task.Run(() =>
        {
            _warmUp.Wait();                                 // normally long done; drawing beside it would only compete for the cores
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var drawn = Engine.Plots.TrainingPlots.Write(training, directory);
            return (drawn, watch.Elapsed.TotalSeconds);
        });

        /// <summary>What was drawn and how long the drawing took; rethrows what the drawing threw. Null if it never started.</summary>
        public (Engine.Plots.PlotFiles Drawn, double Seconds)? Result() => _drawing?.GetAwaiter().GetResult();

        public void Finish()
        {
            try { _drawing?.Wait(); } catch (AggregateException) { /* reported by Result, or the run failed first */ }
        }
    }

    private static int Train(CliContext context, ExperimentSettings settings, OutputOptions show, ICommunicator? mpi, BackgroundPlots? plots)
    {
        var data = Load(settings, new Output.ReadProgressLines(context.Error, context.ErrorInteractive));
        using var backend = Devices.Open(settings.Device);
        using var nccl = mpi is not null && settings.Distributed == "nccl" ? DistributedRun.OpenNccl(mpi, backend) : null;
        var communicator = (ICommunicator?)nccl ?? mpi;
        var console = context.Console;
        context.Status(Summary(data, settings.Graph));
        if (settings.RemoveLabels.Count > 0)
        {
            bool train = settings.RemoveLabelsFrom == Engine.Data.LabelRemovalScope.Train;
            int rows = train ? data.Split.Train.Length : data.All.RowCount;
            context.Status(string.Create(CultureInfo.InvariantCulture, $"Removed labels (--remove-labels, seed {settings.RemoveLabelsSeed ?? settings.Seed}): {string.Join(", ",
                settings.RemoveLabels.Select(r => $"{r.Key} from {(int)Math.Round(r.Value * rows)} of {rows} {(train ? "training " : "")}rows ({data.All.Task(r.Key).LabelledCount} labelled left)"))}."));
        }
        context.Status($"Device: {backend.Info}");
        if (communicator is not null)
            context.Status($"Distributed: {communicator.Description}; each rank trains on its shard, --batch-size is the global batch.");

        using var outcome = TrainingProgress.Run(context, progress =>
        {
            try { return Experiment.Run(settings, data, backend, progress, context.Cancellation, communicator, plots is null ? null : plots.Start); }
            catch (ExperimentSetupException e) { throw new BadInputException(e.Message, e); }
        }, settings.Graph?.Unsupervised);
        if (communicator is { Rank: not 0 }) return ExitCodes.Ok;   // rank 0 alone reports and writes the files
        var report = outcome.Report;
        foreach (var score in report.Metrics.Train)
            if (!double.IsFinite(score.Loss))
                throw new TrainingDivergedException($"training diverged: the final training loss of task '{score.Task}' is {score.Loss}.");

        context.Status(string.Create(CultureInfo.InvariantCulture,
            $"Trained {report.Epochs} epochs in {report.Seconds:F1} s{(report.StoppedEarly ? $" (stopped early; weights of epoch {report.BestEpoch})" : "")}."));
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
        if (plots?.Result() is { } result)
        {
            var (drawn, seconds) = result;
            context.Status(string.Create(CultureInfo.InvariantCulture,
                $"Drew {drawn.Files.Count / 2} charts into {plots.Directory} (PNG and SVG) in {seconds:F2} s."));
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
    private static PreparedData Load(ExperimentSettings settings, IProgress<ReadProgress> progress)
    {
        try { return PreparedData.Load(settings, progress); }
        catch (ExperimentSetupException e) { throw new BadInputException(e.Message, e); }
    }

    private static string Summary(PreparedData data, TaskGraph? graph)
    {
        string Graph(string task) => (graph?.Products.TryGetValue(task, out var f) == true ? $"; product {string.Join("·", f!)}" : "")
            + (graph?.Unsupervised.Contains(task) == true ? "; no loss" : "")
            + (graph?.Inputs.TryGetValue(task, out var read) == true ? $"; tower reads {string.Join(", ", read!)}{(graph.DetachInputs ? " (detached)" : "")}" : "");
        var columnless = (graph?.Unsupervised ?? []).Where(u => data.All.Tasks.All(t => t.Name != u)).Select(u => $", {u} (binary, no column; no loss)");
        var tasks = string.Concat(columnless.Prepend(string.Join(", ", data.All.Tasks.Select(t => t is ClassTargets c ? (c.Kind == Engine.Data.TaskKind.Binary ? $"{t.Name} (binary, positive class {Excerpt.Quote(c.Labels.LabelOf(1))}{Graph(t.Name)})" : $"{t.Name} (classification, {c.ClassCount} classes)") : t is MultiLabelTargets m ? $"{t.Name} (multi-label, {m.Width} labels{Graph(t.Name)})" : $"{t.Name} (regression{Graph(t.Name)})"))));
        return $"{Path.GetFileName(data.All.Source)}: {data.All.RowCount} rows, {data.All.InputCount} inputs; tasks: {tasks}; " +
               $"split {data.Split.Train.Length}/{data.Split.Validation.Length}/{data.Split.Test.Length} rows (train/validation/test).";
    }
}
