namespace Engine.Data;

/// <summary>
/// A table loaded into memory, ready for training: a float32 feature matrix [rows × inputs] (row-major) and
/// one target block per task. Produced by <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/>; <see cref="Select"/> takes a subset
/// of rows (a split), <see cref="Standardization.Apply"/> a standardized copy.
/// </summary>
public sealed class Dataset
{
    /// <summary>Where the data came from (the file path), for messages.</summary>
    public string Source { get; }

    /// <summary>The schema the data was loaded with.</summary>
    public TableSchema Schema { get; }

    /// <summary>The category and label maps the data was encoded with.</summary>
    public DataEncoding Encoding { get; }

    /// <summary>The number of rows (examples).</summary>
    public int RowCount { get; }

    /// <summary>The number of feature columns: numeric inputs plus the width of every one-hot block.</summary>
    public int InputCount => InputNames.Count;

    /// <summary>The feature names: the numeric input columns, then <c>column=value</c> for each one-hot slot.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The features, row-major [RowCount × InputCount].</summary>
    public float[] Inputs { get; }

    /// <summary>The targets of each task, in schema order.</summary>
    public IReadOnlyList<TaskTargets> Tasks { get; }

    /// <summary>For each row, the 1-based line of the file it was read from (for messages about a row).</summary>
    public int[] SourceLines { get; }

    /// <summary>The sample weight of each row (maths §19.11: finite, ≥ 0), read from <see cref="TableSchema.WeightColumn"/>;
    /// null when the rows are unweighted.</summary>
    public float[]? SampleWeights { get; }

    /// <summary>Creates a dataset; checks that every block has RowCount rows.</summary>
    public Dataset(string source, TableSchema schema, DataEncoding encoding, IReadOnlyList<string> inputNames,
        float[] inputs, IReadOnlyList<TaskTargets> tasks, int[] sourceLines, float[]? sampleWeights = null)
    {
        SampleWeights = sampleWeights;
        if (sampleWeights is not null && sampleWeights.Length != sourceLines.Length)
            throw new ArgumentException($"{sampleWeights.Length} sample weights for {sourceLines.Length} rows.", nameof(sampleWeights));
        Source = source;
        Schema = schema;
        Encoding = encoding;
        InputNames = inputNames.ToArray();
        Inputs = inputs;
        Tasks = tasks.ToArray();
        SourceLines = sourceLines;
        RowCount = sourceLines.Length;
        if (inputs.Length != (long)RowCount * InputCount)
            throw new ArgumentException($"inputs has {inputs.Length} values but {RowCount} rows × {InputCount} inputs need {(long)RowCount * InputCount}.", nameof(inputs));
        foreach (var t in Tasks)
            if (t.RowCount != RowCount)
                throw new ArgumentException($"Task '{t.Name}' has {t.RowCount} rows but the inputs have {RowCount}.", nameof(tasks));
    }

    /// <summary>The features of one row.</summary>
    public ReadOnlySpan<float> InputRow(int row) => Inputs.AsSpan(checked(row * InputCount), InputCount);

    /// <summary>The targets of the task with this name.</summary>
    public TaskTargets Task(string name) =>
        Tasks.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"{Source} has no task '{name}' (tasks: {string.Join(", ", Tasks.Select(t => t.Name))}).");

    /// <summary>The rows at <paramref name="rows"/> (in that order) as a new dataset, e.g. one part of a <see cref="DataSplit"/>.</summary>
    public Dataset Select(ReadOnlySpan<int> rows)
    {
        var inputs = new float[(long)rows.Length * InputCount];
        var lines = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            if ((uint)r >= (uint)RowCount) throw new ArgumentOutOfRangeException(nameof(rows), r, $"Row index must be in [0, {RowCount}).");
            InputRow(r).CopyTo(inputs.AsSpan(i * InputCount, InputCount));
            lines[i] = SourceLines[r];
        }
        var tasks = new TaskTargets[Tasks.Count];
        for (int t = 0; t < tasks.Length; t++) tasks[t] = Tasks[t].Select(rows);
        float[]? weights = null;
        if (SampleWeights is not null)
        {
            weights = new float[rows.Length];
            for (int i = 0; i < rows.Length; i++) weights[i] = SampleWeights[rows[i]];
        }
        return new Dataset(Source, Schema, Encoding, InputNames, inputs, tasks, lines, weights);
    }

    /// <summary>A copy with other features and task targets (same rows, names and encoding).</summary>
    internal Dataset With(float[] inputs, IReadOnlyList<TaskTargets> tasks) =>
        new(Source, Schema, Encoding, InputNames, inputs, tasks, SourceLines, SampleWeights);
}

/// <summary>The targets of one task over all rows of a dataset.</summary>
public abstract class TaskTargets
{
    /// <summary>The task's name.</summary>
    public string Name { get; }

    /// <summary>Regression or classification.</summary>
    public abstract TaskKind Kind { get; }

    /// <summary>The number of rows.</summary>
    public abstract int RowCount { get; }

    private protected TaskTargets(string name) => Name = name;

    /// <summary>The targets of the given rows, in that order.</summary>
    public abstract TaskTargets Select(ReadOnlySpan<int> rows);

    /// <summary>How many labels are present: rows with a class (classification), target values that are not NaN (regression).</summary>
    public abstract int LabelledCount { get; }
}

/// <summary>Regression targets: float32 [rows × Width], row-major, one column per target column; NaN = no label.</summary>
public sealed class RegressionTargets : TaskTargets
{
    /// <summary>The target columns (Width of them).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>k, the number of values per row.</summary>
    public int Width => Columns.Count;

    /// <summary>The values, row-major [RowCount × Width].</summary>
    public float[] Values { get; }

    /// <inheritdoc/>
    public override TaskKind Kind => TaskKind.Regression;

    /// <inheritdoc/>
    public override int RowCount => Values.Length / Width;

    /// <summary>Creates the targets; Values.Length must be a multiple of the number of columns.</summary>
    public RegressionTargets(string name, IReadOnlyList<string> columns, float[] values) : base(name)
    {
        Columns = columns.ToArray();
        if (Columns.Count == 0) throw new ArgumentException("A regression task needs at least one column.", nameof(columns));
        if (values.Length % Columns.Count != 0)
            throw new ArgumentException($"values has {values.Length} elements, not a multiple of {Columns.Count} columns.", nameof(values));
        Values = values;
    }

    /// <inheritdoc/>
    public override TaskTargets Select(ReadOnlySpan<int> rows)
    {
        var values = new float[(long)rows.Length * Width];
        for (int i = 0; i < rows.Length; i++) Values.AsSpan(rows[i] * Width, Width).CopyTo(values.AsSpan(i * Width, Width));
        return new RegressionTargets(Name, Columns, values);
    }

    /// <summary>A copy with other values (e.g. standardized).</summary>
    public RegressionTargets WithValues(float[] values) => new(Name, Columns, values);

    /// <inheritdoc/>
    public override int LabelledCount
    {
        get
        {
            int n = 0;
            foreach (float v in Values) if (!float.IsNaN(v)) n++;
            return n;
        }
    }
}

/// <summary>Classification targets: one class index per row, into <see cref="Labels"/>.</summary>
public sealed class ClassTargets : TaskTargets
{
    /// <summary>The label column.</summary>
    public string Column { get; }

    /// <summary>Label ↔ index.</summary>
    public LabelMap Labels { get; }

    /// <summary>The class index of a row without a label.</summary>
    public const int Missing = Kernels.MissingLabel.Class;

    /// <summary>The class index of each row, in [0, Labels.Count), or <see cref="Missing"/> for a row without a label.</summary>
    public int[] Classes { get; }

    /// <inheritdoc/>
    public override int LabelledCount => Classes.Count(c => c != Missing);

    /// <summary>The number of classes.</summary>
    public int ClassCount => Labels.Count;

    /// <inheritdoc/>
    public override TaskKind Kind { get; }

    /// <inheritdoc/>
    public override int RowCount => Classes.Length;

    /// <summary>Creates the targets; every class index must be in range or <see cref="Missing"/>.</summary>
    /// <param name="name">The task's name.</param>
    /// <param name="column">The label column.</param>
    /// <param name="labels">Label ↔ index.</param>
    /// <param name="classes">The class index of each row, or <see cref="Missing"/>.</param>
    /// <param name="kind"><see cref="TaskKind.Classification"/>, or <see cref="TaskKind.Binary"/> (exactly two labels).</param>
    public ClassTargets(string name, string column, LabelMap labels, int[] classes, TaskKind kind = TaskKind.Classification) : base(name)
    {
        if (kind == TaskKind.Regression) throw new ArgumentException($"Task '{name}': class targets cannot be a regression.", nameof(kind));
        if (kind == TaskKind.Binary && labels.Count != 2)
            throw new ArgumentException($"Binary task '{name}' needs exactly two classes in column '{column}', not {labels.Count}.", nameof(labels));
        Kind = kind;
        Column = column;
        Labels = labels;
        Classes = classes;
        for (int i = 0; i < classes.Length; i++)
            if ((uint)classes[i] >= (uint)labels.Count && classes[i] != Missing)
                throw new ArgumentOutOfRangeException(nameof(classes), classes[i], $"Class index at row {i} must be in [0, {labels.Count}) or {Missing} (no label).");
    }

    /// <inheritdoc/>
    public override TaskTargets Select(ReadOnlySpan<int> rows)
    {
        var classes = new int[rows.Length];
        for (int i = 0; i < rows.Length; i++) classes[i] = Classes[rows[i]];
        return new ClassTargets(Name, Column, Labels, classes, Kind);
    }
}
