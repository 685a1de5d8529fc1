using System.Globalization;
using Engine.Training;
using Spectre.Console;

namespace Engine.Cli.Output;

/// <summary>
/// Shows training as it goes, on stderr, fed by the trainer's <see cref="IProgress{EpochReport}"/>: on a terminal a live
/// Spectre.Console progress bar per training run (the multi-task model, then each single-task baseline) that fits the
/// terminal's width (tested at 80 and 60 columns: the description is cut to what is left beside the bar); when stderr
/// is not a terminal, one plain line per epoch, so logs stay readable and greppable.
/// </summary>
internal static class TrainingProgress
{
    /// <summary>Columns taken by everything but the description: bar, percentage, remaining time and the gaps.</summary>
    internal const int FixedColumns = BarWidth + 5 + 8 + 4;

    private const int BarWidth = 16;

    /// <summary>Runs <paramref name="work"/>, giving it a factory of progress sinks (label, epochs → sink). The tasks named in
    /// <paramref name="noLoss"/> (<c>--no-loss</c>) have no training loss of their own: their training column says so.</summary>
    public static T Run<T>(CliContext context, Func<Func<string, int, IProgress<EpochReport>?>, T> work, IReadOnlyCollection<string>? noLoss = null)
    {
        noLoss ??= [];
        if (!context.ErrorInteractive)
            return work((label, epochs) => new PlainLines(context.Error, label, noLoss));

        var console = context.ErrorConsole;
        return console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = BarWidth },
                new PercentageColumn(), new RemainingTimeColumn())
            .Start(progress => work((label, epochs) =>
                new Bar(progress.AddTask(Markup.Escape(Fit($"{label} · starting", DescriptionWidth(console))), maxValue: epochs), label, console, noLoss)));
    }

    /// <summary>The columns left for the description on <paramref name="console"/> (at least 12).</summary>
    internal static int DescriptionWidth(IAnsiConsole console) => Math.Max(12, console.Profile.Width - FixedColumns - 1);

    /// <summary><paramref name="text"/> cut to <paramref name="width"/> characters, ending in … when cut.</summary>
    internal static string Fit(string text, int width) => text.Length <= width ? text : text[..Math.Max(0, width - 1)] + "…";

    /// <summary>One line summarizing an epoch: the training losses (and validation losses) per task; a task of
    /// <paramref name="noLoss"/> shows "no loss" for training (it is trained through the tasks that read it; its labels,
    /// where there are any, are scored in validation).</summary>
    internal static string Describe(EpochReport e, IReadOnlyCollection<string>? noLoss = null)
    {
        var text = string.Join("  ", e.Train.Select(t => noLoss?.Contains(t.Task) == true ? $"{t.Task} no loss" : $"{t.Task} {Loss(t.Loss)}"));
        if (e.Validation is { Count: > 0 } v) text += "  | validation " + string.Join("  ", v.Select(t => $"{t.Task} {Loss(t.Loss)}{(t.Auc is { } auc ? $" auc {Loss(auc)}" : "")}"));
        return text;
    }

    private static string Loss(double loss) => loss.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>A live bar: value = epochs done, description = the label, the epoch and the latest losses, cut to fit.</summary>
    private sealed class Bar(ProgressTask task, string label, IAnsiConsole console, IReadOnlyCollection<string> noLoss) : IProgress<EpochReport>
    {
        public void Report(EpochReport e)
        {
            task.Value = e.Epoch;
            task.Description = Markup.Escape(Fit($"{label} {e.Epoch}/{e.Epochs} · {Describe(e, noLoss)}", DescriptionWidth(console)));
            if (e.Epoch >= e.Epochs) task.StopTask();
        }
    }

    /// <summary>Plain text for logs: one line per epoch.</summary>
    private sealed class PlainLines(TextWriter error, string label, IReadOnlyCollection<string> noLoss) : IProgress<EpochReport>
    {
        private double _seconds;

        public void Report(EpochReport e)
        {
            _seconds += e.Elapsed.TotalSeconds;
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}: epoch {e.Epoch}/{e.Epochs}  loss {Describe(e, noLoss)}  ({_seconds:F1} s)"));
        }
    }
}
