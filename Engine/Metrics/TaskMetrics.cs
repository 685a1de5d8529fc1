using Engine.Data;

namespace Engine.Metrics;

/// <summary>
/// One task's metrics over a set of rows (N rows, k outputs for a regression):
/// <list type="bullet">
/// <item><see cref="Loss"/>: the mean training loss, in the units the model is trained in (MSE of the possibly
/// standardized targets, mean over N·k elements; or cross-entropy, mean over N rows);</item>
/// <item><see cref="Rmse"/> = √((1/(N·k)) Σᵣⱼ (σⱼ(p − t)ᵣⱼ)²) and <see cref="Mae"/> = (1/(N·k)) Σᵣⱼ σⱼ|p − t|ᵣⱼ, in the
/// original units when the data gave a per-column scale σ (<see cref="Training.TaskData.Scale"/>), else σ = 1;</item>
/// <item><see cref="Accuracy"/> = (1/N)·#{r : argmax pᵣ = yᵣ} (ties to the lowest class).</item>
/// </list>
/// </summary>
public sealed record TaskMetrics(string Task, TaskKind Kind, double Loss, double? Rmse, double? Mae, double? Accuracy);
