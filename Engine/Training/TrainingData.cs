using Engine.Data;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// One task's targets over the rows of a <see cref="TrainingData"/>: float32 values [rows × k] for a regression, or
/// class indices in [0, C) for a classification. <see cref="Scale"/> (regression only) is the per-column σ by which
/// the targets were divided when they were standardized: RMSE and MAE are then reported in the original units
/// (σⱼ·error; the offset μ cancels in an error).
/// </summary>
public sealed class TaskData
{
    private TaskData(string name, TaskKind kind, int width, float[]? values, int[]? classes, double[]? scale)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Kind = kind;
        Width = width;
        Values = values;
        Classes = classes;
        Scale = scale;
    }

    /// <summary>Regression targets, row-major [rows × <paramref name="width"/>], NaN where a row has no label;
    /// <paramref name="scale"/> (one σ per column,
    /// each finite and &gt; 0) converts errors back to the original units.</summary>
    public static TaskData Regression(string name, float[] values, int width = 1, IReadOnlyList<double>? scale = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, $"Task '{name}': width must be positive.");
        if (values.Length % width != 0)
            throw new ArgumentException($"Task '{name}': values has {values.Length} elements, not a multiple of width {width}.", nameof(values));
        for (int i = 0; i < values.Length; i++)
            if (float.IsInfinity(values[i]))
                throw new ArgumentException($"Task '{name}': values[row {i / width}, column {i % width}] is {values[i]}; targets must be finite (or NaN: no label).", nameof(values));
        double[]? s = null;
        if (scale is not null)
        {
            if (scale.Count != width) throw new ArgumentException($"Task '{name}': scale has {scale.Count} entries but the task has {width} columns.", nameof(scale));
            s = [.. scale];
            foreach (double v in s)
                if (!(v > 0) || !double.IsFinite(v)) throw new ArgumentOutOfRangeException(nameof(scale), v, $"Task '{name}': every scale σ must be finite and > 0.");
        }
        return new TaskData(name, TaskKind.Regression, width, values, null, s);
    }

    /// <summary>Classification targets: one class index in [0, <paramref name="classes"/>) per row, or
    /// <see cref="MissingLabel.Class"/> (−1) for a row without a label.</summary>
    public static TaskData Classification(string name, int[] labels, int classes)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"Task '{name}': a classification needs at least 2 classes.");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes && labels[i] != MissingLabel.Class)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i],
                    $"labels of task '{name}'[row {i}] = {labels[i]} is not a class index in [0, {classes}) nor {MissingLabel.Class} (no label).");
        return new TaskData(name, TaskKind.Classification, classes, null, labels, null);
    }

    /// <summary>Binary targets (one logit): class 0 or 1 per row (1 = the positive class), or <see cref="MissingLabel.Class"/>
    /// (−1) for a row without a label. Width 1: the head has one output.</summary>
    public static TaskData Binary(string name, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= 2u && labels[i] != MissingLabel.Class)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i],
                    $"labels of binary task '{name}'[row {i}] = {labels[i]} is neither 0, 1 nor {MissingLabel.Class} (no label).");
        return new TaskData(name, TaskKind.Binary, 1, null, labels, null);
    }

    /// <summary>Multi-label targets: k labels per row, row-major [rows × k], each 0, 1 or <see cref="MissingLabel.Class"/>
    /// (no label for that label of that row). Width k: the head has k outputs.</summary>
    public static TaskData MultiLabel(string name, int[] labels, int width)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (width <= 0 || labels.Length % width != 0)
            throw new ArgumentException($"Task '{name}': {labels.Length} labels do not form rows of {width}.", nameof(labels));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= 2u && labels[i] != MissingLabel.Class)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i],
                    $"labels of multi-label task '{name}'[row {i / width}, label {i % width}] = {labels[i]} is neither 0, 1 nor {MissingLabel.Class} (no label).");
        return new TaskData(name, TaskKind.MultiLabel, width, null, labels, null);
    }

    /// <summary>Labels per row in <see cref="Classes"/>: k for a multi-label task, 1 for a classification.</summary>
    public int LabelWidth => Kind == TaskKind.MultiLabel ? Width : 1;

    /// <summary>The task's name (matches a <see cref="TaskHead.Name"/>).</summary>
    public string Name { get; }

    /// <summary>Regression or classification.</summary>
    public TaskKind Kind { get; }

    /// <summary>k columns (regression) or C classes (classification).</summary>
    public int Width { get; }

    /// <summary>Regression values [rows × k], or null.</summary>
    public float[]? Values { get; }

    /// <summary>Class indices, or null.</summary>
    public int[]? Classes { get; }

    /// <summary>Per-column σ of the original targets (regression), or null: metrics in the units given.</summary>
    public double[]? Scale { get; }

    /// <summary>Number of rows.</summary>
    public int Rows => Kind == TaskKind.Regression ? Values!.Length / Width : Classes!.Length / LabelWidth;

    /// <summary>Labels present: target values that are not NaN (regression), rows with a class (classification).</summary>
    public int LabelledCount => Kind == TaskKind.Regression ? Values!.Count(v => !float.IsNaN(v)) : Classes!.Count(c => c != MissingLabel.Class);
}

/// <summary>
/// A labelled set on the host: float32 inputs [rows × width] (already preprocessed, e.g. standardized) and one
/// <see cref="TaskData"/> per task. Checked on construction: shapes agree, every value is finite, labels are in range.
/// </summary>
public sealed class TrainingData
{
    /// <summary>Creates the set; <paramref name="inputs"/> is row-major [rows × <paramref name="inputWidth"/>].
    /// <paramref name="sampleWeights"/> (one sᵣ per row, each finite and ≥ 0; null = unweighted) weighs every task's loss
    /// and metrics by row (maths §19.11).</summary>
    public TrainingData(float[] inputs, int inputWidth, IReadOnlyList<TaskData> tasks, float[]? sampleWeights = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(tasks);
        if (inputWidth <= 0) throw new ArgumentOutOfRangeException(nameof(inputWidth), inputWidth, "inputWidth must be positive.");
        if (inputs.Length == 0 || inputs.Length % inputWidth != 0)
            throw new ArgumentException($"inputs has {inputs.Length} values, not a positive multiple of inputWidth {inputWidth}.", nameof(inputs));
        Rows = inputs.Length / inputWidth;
        InputValidation.CheckMatrix(inputs, Rows, inputWidth, nameof(inputs));
        if (tasks.Count == 0) throw new ArgumentException("At least one task is needed.", nameof(tasks));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tasks)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tasks));
            if (!names.Add(t.Name)) throw new ArgumentException($"Task '{t.Name}' appears twice.", nameof(tasks));
            if (t.Rows != Rows) throw new ArgumentException($"Task '{t.Name}' has {t.Rows} rows but the inputs have {Rows}.", nameof(tasks));
        }
        if (sampleWeights is not null)
        {
            if (sampleWeights.Length != Rows)
                throw new ArgumentException($"{sampleWeights.Length} sample weights for {Rows} rows (one per row).", nameof(sampleWeights));
            for (int r = 0; r < Rows; r++)
                if (!(sampleWeights[r] >= 0) || float.IsInfinity(sampleWeights[r]))
                    throw new ArgumentOutOfRangeException(nameof(sampleWeights), sampleWeights[r], $"sampleWeights[row {r}] = {sampleWeights[r]}: a sample weight must be finite and >= 0.");
        }
        Inputs = inputs;
        InputWidth = inputWidth;
        Tasks = [.. tasks];
        SampleWeights = sampleWeights;
    }

    /// <summary>
    /// The data of a (standardized) <see cref="Dataset"/>. When <paramref name="standardization"/> is the one that
    /// standardized it, each regression task's σ becomes its <see cref="TaskData.Scale"/>, so RMSE/MAE are reported in
    /// the original units. The dataset's <see cref="Dataset.SampleWeights"/> become <see cref="SampleWeights"/>.
    /// </summary>
    public static TrainingData FromDataset(Dataset data, Standardization? standardization = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var tasks = data.Tasks.Select(t => t switch
        {
            RegressionTargets r => TaskData.Regression(r.Name, r.Values, r.Width,
                standardization is not null && standardization.Targets.TryGetValue(r.Name, out var s) ? s.Std : null),
            MultiLabelTargets m => TaskData.MultiLabel(m.Name, m.Labels, m.Width),
            ClassTargets c => c.Kind == TaskKind.Binary ? TaskData.Binary(c.Name, c.Classes) : TaskData.Classification(c.Name, c.Classes, c.ClassCount),
            _ => throw new ArgumentException($"Task '{t.Name}' has an unknown kind.", nameof(data)),
        }).ToList();
        return new TrainingData(data.Inputs, data.InputCount, tasks, data.SampleWeights);
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Features per row.</summary>
    public int InputWidth { get; }

    /// <summary>The inputs, row-major [Rows × InputWidth].</summary>
    public float[] Inputs { get; }

    /// <summary>The tasks' targets.</summary>
    public IReadOnlyList<TaskData> Tasks { get; }

    /// <summary>The sample weight sᵣ of each row (finite, ≥ 0), or null when the rows are unweighted: each task's loss is then
    /// Σ sᵣmᵣℓᵣ / Σ sᵣmᵣ over its labelled rows (maths §19.11), and the evaluation metrics are weighted alike.</summary>
    public float[]? SampleWeights { get; }

    /// <summary>The task called <paramref name="name"/>.</summary>
    public TaskData this[string name] => Tasks.FirstOrDefault(t => t.Name == name)
        ?? throw new KeyNotFoundException($"No task '{name}' in the data (tasks: {string.Join(", ", Tasks.Select(t => t.Name))}).");
}
