using Engine.Training;

namespace Engine.Distributed;

/// <summary>The rows of a <see cref="TrainingData"/> that one rank keeps (copied, in the order given).</summary>
public static class ShardData
{
    /// <summary>A new set holding rows <paramref name="rows"/> of <paramref name="data"/>, every task alike.</summary>
    public static TrainingData Select(TrainingData data, IReadOnlyList<int> rows)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rows);
        int w = data.InputWidth;
        var inputs = new float[rows.Count * w];
        for (int i = 0; i < rows.Count; i++) data.Inputs.AsSpan(rows[i] * w, w).CopyTo(inputs.AsSpan(i * w, w));
        var tasks = data.Tasks.Select(t =>
        {
            if (t.Kind == Engine.Data.TaskKind.Regression)
            {
                var values = new float[rows.Count * t.Width];
                for (int i = 0; i < rows.Count; i++) t.Values!.AsSpan(rows[i] * t.Width, t.Width).CopyTo(values.AsSpan(i * t.Width, t.Width));
                return TaskData.Regression(t.Name, values, t.Width, t.Scale);
            }
            int k = t.LabelWidth;   // a multi-label row holds k labels; a classification or binary row one
            var labels = new int[rows.Count * k];
            for (int i = 0; i < rows.Count; i++) t.Classes!.AsSpan(rows[i] * k, k).CopyTo(labels.AsSpan(i * k, k));
            return t.Kind switch
            {
                Engine.Data.TaskKind.Binary => TaskData.Binary(t.Name, labels),
                Engine.Data.TaskKind.MultiLabel => TaskData.MultiLabel(t.Name, labels, t.Width),
                _ => TaskData.Classification(t.Name, labels, t.Width),
            };
        }).ToList();
        float[]? weights = data.SampleWeights is { } s ? [.. rows.Select(r => s[r])] : null;   // a row keeps its weight (§19.11)
        return new TrainingData(inputs, w, tasks, weights);
    }

    /// <summary>True when every row of <paramref name="data"/> carries a label for every task (no NaN regression
    /// target, no negative class): then each rank's task means are over its rows and may be weighted by row shares
    /// (maths §20); otherwise the exchange weights them by the labelled counts.</summary>
    public static bool EveryRowLabelled(TrainingData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        foreach (var t in data.Tasks)
            if (t.Kind == Engine.Data.TaskKind.Regression ? t.Values!.Any(float.IsNaN) : t.Classes!.Any(c => c < 0)) return false;
        return true;
    }
}
