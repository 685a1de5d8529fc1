namespace Engine.Data;

/// <summary>Multi-label targets: k yes/no labels per row, row-major [rows × k] (one column of the file each): 1, 0, or
/// <see cref="Missing"/> where the cell is empty (no label for that label of that row).</summary>
public sealed class MultiLabelTargets : TaskTargets
{
    /// <summary>The marker of a missing label.</summary>
    public const int Missing = Kernels.MissingLabel.Class;

    /// <summary>The label columns (Width of them).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>k, the labels per row.</summary>
    public int Width => Columns.Count;

    /// <summary>The labels, row-major [RowCount × Width]: 0, 1 or <see cref="Missing"/>.</summary>
    public int[] Labels { get; }

    /// <inheritdoc/>
    public override TaskKind Kind => TaskKind.MultiLabel;

    /// <inheritdoc/>
    public override int RowCount => Labels.Length / Width;

    /// <summary>The labels present (row, label pairs).</summary>
    public override int LabelledCount => Labels.Count(l => l != Missing);

    /// <summary>Creates the targets; every label must be 0, 1 or <see cref="Missing"/>.</summary>
    public MultiLabelTargets(string name, IReadOnlyList<string> columns, int[] labels) : base(name)
    {
        Columns = columns.ToArray();
        if (Columns.Count == 0) throw new ArgumentException($"Multi-label task '{name}' needs at least one label column.", nameof(columns));
        if (labels.Length % Columns.Count != 0)
            throw new ArgumentException($"labels has {labels.Length} elements, not a multiple of {Columns.Count} columns.", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] > 1u && labels[i] != Missing)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label at row {i / Columns.Count}, column '{Columns[i % Columns.Count]}' must be 0, 1 or {Missing} (no label).");
        Labels = labels;
    }

    /// <inheritdoc/>
    public override TaskTargets Select(ReadOnlySpan<int> rows)
    {
        var labels = new int[(long)rows.Length * Width];
        for (int i = 0; i < rows.Length; i++) Labels.AsSpan(rows[i] * Width, Width).CopyTo(labels.AsSpan(i * Width, Width));
        return new MultiLabelTargets(Name, Columns, labels);
    }
}
