using System.Text.Json;
using System.Text.Json.Serialization;
using Engine.Checkpoints;
using Engine.Data;

namespace Engine.Experiments;

/// <summary>
/// What an experiment did and got, as written by <c>mtl train --report FILE.json</c>: the settings, the data
/// and its split, the final per-task metrics on train/validation/test (original units), the per-epoch history
/// and, with baselines, the single-task metrics and Δm. Field names are camelCase in the JSON.
/// </summary>
public sealed record ExperimentReport
{
    /// <summary>The Engine assembly's version that produced the report.</summary>
    public required string EngineVersion { get; init; }

    /// <summary>When the run finished (UTC).</summary>
    public required DateTimeOffset Finished { get; init; }

    /// <summary>The device the model trained on (one line, as <c>mtl devices</c> prints it).</summary>
    public required string Device { get; init; }

    /// <summary>Every setting, defaults included.</summary>
    public required ExperimentSettings Settings { get; init; }

    /// <summary>The data and its split.</summary>
    public required DataSummary Data { get; init; }

    /// <summary>The final model's metrics per split and task (original units).</summary>
    public required SplitScores Metrics { get; init; }

    /// <summary>The epochs as the trainer reported them: every epoch, or for runs longer than
    /// <see cref="Training.TrainerOptions.MaxHistory"/> (10 000) every <see cref="HistoryStride"/>-th and the last.</summary>
    public required IReadOnlyList<EpochSummary> History { get; init; }

    /// <summary>Epochs trained.</summary>
    public int Epochs { get; init; }

    /// <summary>1: <see cref="History"/> has every epoch; s: only every s-th epoch and the last (memory stays bounded).</summary>
    public int HistoryStride { get; init; } = 1;

    /// <summary>The epoch whose weights the model ended with (1-based; the best validation loss with early stopping).</summary>
    public required int BestEpoch { get; init; }

    /// <summary>Whether early stopping ended training before the last epoch.</summary>
    public required bool StoppedEarly { get; init; }

    /// <summary>Wall-clock seconds of the multi-task training.</summary>
    public required double Seconds { get; init; }

    /// <summary>Single-task baselines and Δm; null unless baselines were asked for.</summary>
    public BaselineReport? Baselines { get; init; }

    /// <summary>The JSON text (indented, camelCase, enums as strings).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static ExperimentReport FromJson(string json) =>
        JsonSerializer.Deserialize<ExperimentReport>(json, Json) ?? throw new JsonException("The report JSON is null.");

    /// <summary>Writes the report atomically: a reader sees the old file or the complete new one.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(ToJson()));

    /// <summary>The serializer settings of the report.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN/∞ (e.g. a diverged loss) stay writable
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver { Modifiers = { Architecture.AddPolymorphism } }, // "architecture":{"kind":"mmoe",…}
    };
}

/// <summary>The data an experiment ran on.</summary>
/// <param name="Source">The CSV file.</param>
/// <param name="Rows">Rows in the file.</param>
/// <param name="InputNames">The model's input features (numeric columns, then one-hot slots <c>column=value</c>).</param>
/// <param name="TrainRows">Rows in the training split (standardization is fitted on these only).</param>
/// <param name="ValidationRows">Rows in the validation split.</param>
/// <param name="TestRows">Rows in the test split.</param>
/// <param name="Tasks">The tasks.</param>
public sealed record DataSummary(string Source, int Rows, IReadOnlyList<string> InputNames, int TrainRows, int ValidationRows,
    int TestRows, IReadOnlyList<TaskSummary> Tasks)
{
    /// <summary>Summarizes prepared data.</summary>
    public static DataSummary Of(PreparedData data) => new(
        data.All.Source, data.All.RowCount, data.All.InputNames, data.Split.Train.Length, data.Split.Validation.Length,
        data.Split.Test.Length,
        data.All.Tasks.Select(t => t switch
        {
            RegressionTargets r => new TaskSummary(r.Name, TaskKind.Regression, r.Columns, null),
            ClassTargets c => new TaskSummary(c.Name, c.Kind, [c.Column], c.Labels.Labels),
            MultiLabelTargets m => new TaskSummary(m.Name, TaskKind.MultiLabel, m.Columns, null),
            _ => throw new NotSupportedException(t.GetType().Name),
        }).ToArray());
}

/// <summary>A task: its name, kind, columns and (classification) its classes in index order.</summary>
public sealed record TaskSummary(string Name, TaskKind Kind, IReadOnlyList<string> Columns, IReadOnlyList<string>? Classes);

/// <summary>Per-task scores on each split; a split with no rows has an empty list.</summary>
public sealed record SplitScores(IReadOnlyList<TaskScore> Train, IReadOnlyList<TaskScore> Validation, IReadOnlyList<TaskScore> Test);

/// <summary>One epoch of training, as the trainer reported it (losses and metrics in the units the model trains
/// in: standardized targets for a regression).</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="TrainLoss">Σᵢ λᵢ·Lᵢ of the epoch's training losses (static weights).</param>
/// <param name="ValidationLoss">The same on the validation split (what early stopping watches); null without one.</param>
/// <param name="Train">Per-task metrics accumulated over the epoch's training steps.</param>
/// <param name="Validation">Per-task metrics on the validation split after the epoch (null without one).</param>
/// <param name="GradientNorm">Root mean square over the epoch's steps of the global gradient norm (before clipping).</param>
/// <param name="LearningRate">The learning rate at the end of the epoch.</param>
/// <param name="TaskWeights">The task weights λ at the epoch's last step.</param>
/// <param name="SkippedSteps">Steps skipped so far because the gradient norm was not finite.</param>
/// <param name="Seconds">Seconds since training started (end of this epoch).</param>
public sealed record EpochSummary(int Epoch, double TrainLoss, double? ValidationLoss, IReadOnlyList<EpochTaskMetrics> Train,
    IReadOnlyList<EpochTaskMetrics>? Validation, double GradientNorm, double LearningRate, IReadOnlyList<double>? TaskWeights,
    long SkippedSteps, double Seconds)
{
    /// <summary>cos(gᵢ, gⱼ) of the task gradients on the trunk averaged over the epoch's steps, row i = task i (null unless the
    /// per-task gradients were computed: any --combine but sum, or --diagnostics).</summary>
    public double[][]? TaskGradientCosines { get; init; }

    /// <summary>For i ≠ j, the epoch's steps in which gᵢ·gⱼ &lt; 0 (same condition as the cosines).</summary>
    public int[][]? TaskGradientConflicts { get; init; }
}

/// <summary>A task's numbers in one epoch (null where they do not apply).</summary>
public sealed record EpochTaskMetrics(string Task, double Loss, double? Rmse, double? Mae, double? Accuracy)
{
    /// <summary>Binary, validation only: ROC AUC (maths §19.4).</summary>
    public double? Auc { get; init; }

    /// <summary>Classification, validation only: F1 (of class 1 for a binary task, macro otherwise).</summary>
    public double? F1 { get; init; }

    /// <summary>Regression, validation only: R².</summary>
    public double? RSquared { get; init; }
}

/// <summary>The single-task baselines and the multi-task gain.</summary>
/// <param name="DeltaM">Δm in percent on the test split (positive: multi-task training helped on average).</param>
/// <param name="Gains">Each task's term of Δm.</param>
/// <param name="Runs">Each single-task model's metrics.</param>
public sealed record BaselineReport(double DeltaM, IReadOnlyList<TaskGain> Gains, IReadOnlyList<BaselineRun> Runs);

/// <summary>One single-task model: its task, its metrics per split, its best epoch and training time.</summary>
public sealed record BaselineRun(string Task, SplitScores Metrics, int BestEpoch, double Seconds);
