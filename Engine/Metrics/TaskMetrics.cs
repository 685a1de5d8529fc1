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
public sealed record TaskMetrics(string Task, TaskKind Kind, double Loss, double? Rmse, double? Mae, double? Accuracy, long Labelled);
