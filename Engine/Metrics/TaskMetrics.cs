using Engine.Data;

namespace Engine.Metrics;

/// <summary>
/// One task's metrics over the <b>labelled</b> values of a set of rows (maths.md §19.1: a NaN target or a negative class
/// is no label and is left out; N labelled rows, or n labelled values of a k-column regression):
/// <list type="bullet">
/// <item><see cref="Loss"/>: the mean training loss over the labelled values, in the units the model is trained in (MSE
/// of the possibly standardized targets, or cross-entropy);</item>
/// <item><see cref="Rmse"/> = √((1/n) Σ (σⱼ(p − t)ᵣⱼ)²) and <see cref="Mae"/> = (1/n) Σ σⱼ|p − t|ᵣⱼ over the labelled
/// values, in the original units when the data gave a per-column scale σ (<see cref="Training.TaskData.Scale"/>), else σ = 1;</item>
/// <item><see cref="Accuracy"/> = (1/N)·#{labelled r : argmax pᵣ = yᵣ} (ties to the lowest class).</item>
/// </list>
/// With no labelled value at all the error metrics are null and the loss 0.
/// </summary>
/// <param name="Task">The task's name.</param>
/// <param name="Kind">Regression or classification.</param>
/// <param name="Loss">Mean loss over the labelled values.</param>
/// <param name="Rmse">Root mean squared error (regression), or null.</param>
/// <param name="Mae">Mean absolute error (regression), or null.</param>
/// <param name="Accuracy">Accuracy (classification), or null.</param>
/// <param name="Labelled">How many labelled values the metrics count: rows for a classification or a one-column
/// regression, values (rows × columns present) for a k-column regression.</param>
/// <remarks>The evaluator (validation and <see cref="Metrics.Evaluate"/>, not the training step's running sums) also fills
/// <see cref="Auc"/> (binary), <see cref="Precision"/>, <see cref="Recall"/>, <see cref="F1"/> (of class 1 for a binary task,
/// macro otherwise) and <see cref="RSquared"/> (regression, original units) from the downloaded outputs (maths §19.4).</remarks>
public sealed record TaskMetrics(string Task, TaskKind Kind, double Loss, double? Rmse, double? Mae, double? Accuracy, long Labelled)
{
    /// <summary>Binary: ROC AUC of the logits, exact with ties; multi-label: the mean of the labels' AUCs.</summary>
    public double? Auc { get; init; }

    /// <summary>Classification: precision.</summary>
    public double? Precision { get; init; }

    /// <summary>Classification: recall.</summary>
    public double? Recall { get; init; }

    /// <summary>Classification: F1.</summary>
    public double? F1 { get; init; }

    /// <summary>Regression: R² = 1 − SS_res/SS_tot, pooled over the columns in original units.</summary>
    public double? RSquared { get; init; }

    /// <summary>True when the data had sample weights (maths §19.11): <see cref="Loss"/>, <see cref="Rmse"/>, <see cref="Mae"/>,
    /// <see cref="Accuracy"/>, <see cref="Precision"/>, <see cref="Recall"/>, <see cref="F1"/> (weighted confusion counts),
    /// <see cref="RSquared"/> (weighted sums of squares about the weighted mean) and <see cref="Auc"/> (binary: the weighted pair
    /// count; multi-label: the mean of the labels' weighted AUCs) are then weighted by row (<see cref="WeightedMetrics"/>).</summary>
    public bool Weighted { get; init; }
}
