using Engine.Data;
using Engine.Metrics;

namespace Engine.Training;

/// <summary>
/// What early stopping watches (<c>--monitor TASK:METRIC</c>): one task's validation metric, with its direction — lower is
/// better for loss, rmse, mae and log-loss; higher for accuracy, auc, precision, recall, f1 and r2. Without a monitor the
/// trainer watches the weighted validation loss Σ λᵢ Lᵢ. An epoch improves on the best so far when the value beats it by
/// more than <see cref="TrainerOptions.EarlyStoppingMinDelta"/>; an undefined value (e.g. AUC of a validation split with
/// one class) never improves.
/// </summary>
/// <param name="Task">The task's name.</param>
/// <param name="Metric">The metric's name (<see cref="Metrics"/>).</param>
public sealed record EarlyStoppingMonitor(string Task, string Metric)
{
    /// <summary>The metric names, each with the task kinds it applies to and whether lower is better.</summary>
    public static IReadOnlyDictionary<string, (TaskKind[] Kinds, bool LowerIsBetter)> Metrics { get; } =
        new Dictionary<string, (TaskKind[], bool)>(StringComparer.Ordinal)
        {
            ["loss"] = ([TaskKind.Regression, TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], true),
            ["rmse"] = ([TaskKind.Regression], true),
            ["mae"] = ([TaskKind.Regression], true),
            ["r2"] = ([TaskKind.Regression], false),
            ["log-loss"] = ([TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], true),
            ["accuracy"] = ([TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], false),
            ["precision"] = ([TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], false),
            ["recall"] = ([TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], false),
            ["f1"] = ([TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], false),
            ["auc"] = ([TaskKind.Binary, TaskKind.MultiLabel], false),
        };

    /// <summary>Whether a lower value is better.</summary>
    public bool LowerIsBetter => Metrics.TryGetValue(Metric, out var m) ? m.LowerIsBetter : throw Unknown();

    /// <summary>Parses <c>TASK:METRIC</c> (the task may itself contain ':'; the metric is after the last one).</summary>
    public static EarlyStoppingMonitor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
            throw new ArgumentException($"--monitor '{text}': expected TASK:METRIC, e.g. color:auc (metrics: {string.Join(", ", Metrics.Keys)}).");
        var monitor = new EarlyStoppingMonitor(text[..colon], text[(colon + 1)..]);
        _ = monitor.LowerIsBetter; // an unknown metric throws here, naming it
        return monitor;
    }

    /// <summary>Throws, naming the task or the metric, unless the task is one of <paramref name="heads"/> and the metric
    /// applies to its kind.</summary>
    public void Validate(IReadOnlyList<TaskHead> heads)
    {
        var head = heads.FirstOrDefault(h => h.Name == Task)
            ?? throw new ArgumentException($"--monitor {Task}:{Metric}: no task '{Task}' (tasks: {string.Join(", ", heads.Select(h => h.Name))}).");
        if (!Metrics.TryGetValue(Metric, out var m)) throw Unknown();
        if (!m.Kinds.Contains(head.Kind))
            throw new ArgumentException($"--monitor {Task}:{Metric}: '{Metric}' does not apply to task '{Task}', a {head.Kind.ToString().ToLowerInvariant()} " +
                $"(its metrics: {string.Join(", ", Metrics.Where(e => e.Value.Kinds.Contains(head.Kind)).Select(e => e.Key))}).");
    }

    /// <summary>The monitored value in <paramref name="metrics"/> (head order), or null when it is undefined.</summary>
    public double? Read(IReadOnlyList<TaskMetrics> metrics)
    {
        var m = metrics.FirstOrDefault(x => x.Task == Task) ?? throw new ArgumentException($"--monitor: no metrics for task '{Task}'.");
        if (m.Labelled == 0) return null;
        return Metric switch
        {
            "loss" => m.Loss,
            "log-loss" => m.Loss,
            "rmse" => m.Rmse,
            "mae" => m.Mae,
            "r2" => m.RSquared,
            "accuracy" => m.Accuracy,
            "precision" => m.Precision,
            "recall" => m.Recall,
            "f1" => m.F1,
            "auc" => m.Auc,
            _ => throw Unknown(),
        };
    }

    private ArgumentException Unknown() =>
        new($"--monitor {Task}:{Metric}: unknown metric '{Metric}' (metrics: {string.Join(", ", Metrics.Keys)}).");
}
