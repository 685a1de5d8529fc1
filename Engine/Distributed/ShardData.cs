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
            var labels = new int[rows.Count];
            for (int i = 0; i < rows.Count; i++) labels[i] = t.Classes![rows[i]];
            return TaskData.Classification(t.Name, labels, t.Width);
        }).ToList();
        return new TrainingData(inputs, w, tasks);
    }
}
