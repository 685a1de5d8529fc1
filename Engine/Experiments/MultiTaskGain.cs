namespace Engine.Experiments;

/// <summary>One task's term of Δm: its primary test metric, multi-task and single-task, and the signed relative change.</summary>
/// <param name="Task">The task.</param>
/// <param name="Metric">"rmse" (regression) or "accuracy" (classification).</param>
/// <param name="LowerIsBetter">l_i = 1 for an error, 0 for an accuracy.</param>
/// <param name="MultiTask">M_mtl,i: the metric of the multi-task model.</param>
/// <param name="SingleTask">M_stl,i: the metric of the model trained on task i alone.</param>
/// <param name="GainPercent">(−1)^{l_i}·(M_mtl,i − M_stl,i)/M_stl,i·100: positive when multi-task training helped task i.</param>
public sealed record TaskGain(string Task, string Metric, bool LowerIsBetter, double MultiTask, double SingleTask, double GainPercent);

/// <summary>
/// The multi-task gain Δm of Maninis et al. (2019) and Vandenhende et al. (2021):
/// Δm = (1/T)·Σᵢ (−1)^{lᵢ}·(M_mtl,i − M_stl,i)/M_stl,i·100 %, where lᵢ = 1 when a lower Mᵢ is better.
/// Positive Δm means the multi-task model beats the single-task models on average. One primary metric per
/// task (<see cref="TaskScore.Primary"/>: RMSE for a regression, accuracy for a classification), on the test split.
/// </summary>
public static class MultiTaskGain
{
    /// <summary>One task's signed relative change in percent. M_stl = 0 (a perfect single-task error) gives ±∞ or NaN, as the formula does.</summary>
    public static double RelativeGainPercent(double multiTask, double singleTask, bool lowerIsBetter)
    {
        double sign = lowerIsBetter ? -1 : 1;
        return sign * (multiTask - singleTask) / singleTask * 100;
    }

    /// <summary>Pairs each multi-task score with the single-task score of the same task and returns the terms and Δm.</summary>
    public static (IReadOnlyList<TaskGain> Tasks, double DeltaM) Compute(IReadOnlyList<TaskScore> multiTask, IReadOnlyList<TaskScore> singleTask)
    {
        if (multiTask.Count == 0) throw new ArgumentException("Δm needs at least one task.", nameof(multiTask));
        var gains = new List<TaskGain>(multiTask.Count);
        foreach (var m in multiTask)
        {
            var s = singleTask.FirstOrDefault(x => x.Task == m.Task)
                ?? throw new ArgumentException($"No single-task score for task '{m.Task}'.", nameof(singleTask));
            if (s.Kind != m.Kind) throw new ArgumentException($"Task '{m.Task}' is a {m.Kind} in one model and a {s.Kind} in the other.", nameof(singleTask));
            gains.Add(new TaskGain(m.Task, m.PrimaryName, m.LowerIsBetter, m.Primary, s.Primary,
                RelativeGainPercent(m.Primary, s.Primary, m.LowerIsBetter)));
        }
        return (gains, gains.Average(g => g.GainPercent));
    }
}
