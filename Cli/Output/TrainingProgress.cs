using System.Globalization;
using Engine.Training;
using Spectre.Console;

namespace Engine.Cli.Output;

/// <summary>
/// Shows training as it goes, fed by the trainer's <see cref="IProgress{EpochReport}"/>: on a terminal a live
/// Spectre.Console progress bar per training run (the multi-task model, then each single-task baseline); with
/// redirected output one plain line every tenth of the epochs (and the last), so logs stay readable.
/// </summary>
internal static class TrainingProgress
{
    /// <summary>Runs <paramref name="work"/>, giving it a factory of progress sinks (label, epochs → sink).</summary>
    public static T Run<T>(CliContext context, Func<Func<string, int, IProgress<EpochReport>?>, T> work)
    {
        if (!context.Interactive)
            return work((label, epochs) => new PlainLines(context.Output, label, epochs));

        return context.Console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(progress => work((label, epochs) => new Bar(progress.AddTask(Markup.Escape(label), maxValue: epochs), label)));
    }

    /// <summary>One line summarizing an epoch: the training losses (and validation losses) per task.</summary>
    internal static string Describe(EpochReport e)
    {
        var text = string.Join("  ", e.Train.Select(t => $"{t.Task} {Loss(t.Loss)}"));
        if (e.Validation is { Count: > 0 } v) text += "  | validation " + string.Join("  ", v.Select(t => $"{t.Task} {Loss(t.Loss)}"));
        return text;
    }

    private static string Loss(double loss) => loss.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>A live bar: value = epochs done, description = the label and the latest losses.</summary>
    private sealed class Bar(ProgressTask task, string label) : IProgress<EpochReport>
    {
        public void Report(EpochReport e)
        {
            task.Value = e.Epoch;
            task.Description = Markup.Escape($"{label} · epoch {e.Epoch}/{e.Epochs} · loss {Describe(e)}");
            if (e.Epoch >= e.Epochs) task.StopTask();
        }
    }

    /// <summary>Plain text for logs: a line at every tenth of the run and at the last epoch.</summary>
    private sealed class PlainLines(TextWriter output, string label, int epochs) : IProgress<EpochReport>
    {
        private readonly int _every = Math.Max(1, epochs / 10);
        private double _seconds;

        public void Report(EpochReport e)
        {
            _seconds += e.Elapsed.TotalSeconds;
            if (e.Epoch % _every != 0 && e.Epoch != e.Epochs && e.Epoch != 1) return;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}: epoch {e.Epoch}/{e.Epochs}  loss {Describe(e)}  ({_seconds:F1} s)"));
        }
    }
}
