namespace Engine.Data;

/// <summary>
/// Removes labels at random, for experiments on partly labelled data (docs/results.md): a copy of a dataset in which a
/// given fraction of one task's rows have no label (NaN targets, <see cref="ClassTargets.Missing"/> classes). Seeded and
/// deterministic: exactly ⌊fraction·rows⌉ rows, chosen by a Fisher–Yates shuffle of the row indices with
/// <see cref="Random"/>(seed), so a run is reproducible and needs no second file.
/// </summary>
public static class LabelRemoval
{
    /// <summary>The rows whose label is removed: round(fraction·rows) distinct indices, ascending.</summary>
    public static int[] ChooseRows(int rows, double fraction, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction of labels to remove must lie in [0, 1].");
        var order = new int[rows];
        for (int i = 0; i < rows; i++) order[i] = i;
        var rng = new Random(seed);
        for (int i = rows - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var chosen = order[..(int)Math.Round(fraction * rows)];
        Array.Sort(chosen);
        return chosen;
    }

    /// <summary>A copy of <paramref name="data"/> with the labels of task <paramref name="task"/> removed from
    /// <paramref name="fraction"/> of the rows (the other tasks and the inputs unchanged).</summary>
    public static Dataset Remove(Dataset data, string task, double fraction, int seed) => Remove(data, task, fraction, seed, among: null);

    /// <summary>As <see cref="Remove(Dataset, string, double, int)"/>, drawing round(fraction·n) rows among the
    /// <paramref name="among"/> row indices (n of them; all rows when null): <see cref="ChooseRows"/> over their positions.</summary>
    public static Dataset Remove(Dataset data, string task, double fraction, int seed, IReadOnlyList<int>? among)
    {
        ArgumentNullException.ThrowIfNull(data);
        var target = data.Task(task);
        var rows = among is null ? ChooseRows(data.RowCount, fraction, seed)
            : [.. ChooseRows(among.Count, fraction, seed).Select(i => among[i]).Order()];
        var tasks = data.Tasks.Select(t => t.Name != task ? t : t switch
        {
            RegressionTargets r => Without(r, rows),
            ClassTargets c => Without(c, rows),
            MultiLabelTargets m => Without(m, rows),
            _ => throw new ArgumentException($"Task '{task}' has an unknown kind.", nameof(task)),
        }).ToList();
        return data.With(data.Inputs, tasks);
    }

    /// <summary>
    /// A copy of <paramref name="data"/> with labels removed from several tasks (<c>mtl train --remove-labels</c>): task t
    /// loses round(f_t·rows) labels, rows drawn by <see cref="ChooseRows"/> with the seed <see cref="TaskSeed"/>(seed, t).
    /// Each task has its own seed so the tasks' row sets are drawn independently (one seed for all would make the smaller
    /// set a subset of the larger), and a task's rows depend only on the seed and its name, not on the other tasks.
    /// </summary>
    public static Dataset Remove(Dataset data, IReadOnlyDictionary<string, double> fractions, ulong seed, IReadOnlyList<int>? among = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(fractions);
        foreach (var (task, fraction) in fractions) data = Remove(data, task, fraction, TaskSeed(seed, task), among);
        return data;
    }

    /// <summary>The seed of <paramref name="task"/>'s rows: the 32-bit FNV-1a hash of its name (UTF-16 code units) XOR the
    /// two halves of <paramref name="seed"/>. Stable across runs and platforms (unlike <see cref="string.GetHashCode()"/>).</summary>
    public static int TaskSeed(ulong seed, string task)
    {
        uint hash = 2166136261;
        foreach (char c in task) hash = unchecked((hash ^ c) * 16777619);
        return unchecked((int)(hash ^ (uint)seed ^ (uint)(seed >> 32)));
    }

    private static RegressionTargets Without(RegressionTargets r, int[] rows)
    {
        var values = (float[])r.Values.Clone();
        foreach (int row in rows) values.AsSpan(row * r.Width, r.Width).Fill(float.NaN);
        return r.WithValues(values);
    }

    private static ClassTargets Without(ClassTargets c, int[] rows)
    {
        var classes = (int[])c.Classes.Clone();
        foreach (int row in rows) classes[row] = ClassTargets.Missing;
        return new ClassTargets(c.Name, c.Column, c.Labels, classes, c.Kind);
    }

    /// <summary>A multi-label task loses all k labels of each chosen row (the row is unlabelled for the task).</summary>
    private static MultiLabelTargets Without(MultiLabelTargets m, int[] rows)
    {
        var labels = (int[])m.Labels.Clone();
        foreach (int row in rows) labels.AsSpan(row * m.Width, m.Width).Fill(MultiLabelTargets.Missing);
        return new MultiLabelTargets(m.Name, m.Columns, labels);
    }
}
