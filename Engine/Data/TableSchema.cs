using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.Data;

/// <summary>What a task predicts: a real vector (regression) or one class out of several (classification).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaskKind>))]
public enum TaskKind
{
    /// <summary>Real-valued targets, float32 [rows × k], mean-squared-error loss.</summary>
    Regression,

    /// <summary>One class per row, stored as an index into the task's <see cref="LabelMap"/>.</summary>
    Classification,

    /// <summary>Two classes, one logit per row, binary cross-entropy with logits (maths §19.3). Stored like a
    /// classification (class indices of a two-label <see cref="LabelMap"/>); class 1, the map's second label, is the
    /// positive class whose probability σ(z) the model predicts.</summary>
    Binary,

    /// <summary>k independent yes/no labels, one logit each, binary cross-entropy with logits per label (maths §19.8): the
    /// task reads k columns of 0/1 (<see cref="MultiLabelTargets"/>); a missing cell is no label for that label of that row.</summary>
    MultiLabel,
}

/// <summary>
/// One task of a multi-task dataset: its name, its kind and the column(s) it reads. A regression task may
/// read several columns (k = columns); a classification task reads exactly one column of labels.
/// </summary>
public sealed class TaskSpec
{
    /// <summary>The task's name (used for the head's tensor names, so it must not contain '.').</summary>
    public string Name { get; }

    /// <summary>Regression or classification.</summary>
    public TaskKind Kind { get; }

    /// <summary>The target columns, by header name.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Creates a task; validates the name and columns.</summary>
    [JsonConstructor]
    public TaskSpec(string name, TaskKind kind, IReadOnlyList<string> columns)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A task needs a name.", nameof(name));
        if (name.Contains('.')) throw new ArgumentException($"Task name '{name}' must not contain '.' (it becomes part of tensor names).", nameof(name));
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Count == 0) throw new ArgumentException($"Task '{name}' reads no column.", nameof(columns));
        if (kind is TaskKind.Classification or TaskKind.Binary && columns.Count != 1)
            throw new ArgumentException($"{kind} task '{name}' must read exactly one column, not {columns.Count}.", nameof(columns));
        Name = name;
        Kind = kind;
        Columns = columns.ToArray();
    }

    /// <summary>A regression task named after its single column.</summary>
    public static TaskSpec Regression(string column) => new(column, TaskKind.Regression, [column]);

    /// <summary>A regression task over several columns (k = columns.Length).</summary>
    public static TaskSpec Regression(string name, params string[] columns) => new(name, TaskKind.Regression, columns);

    /// <summary>A classification task named after its label column.</summary>
    public static TaskSpec Classification(string column) => new(column, TaskKind.Classification, [column]);

    /// <summary>A binary task (two classes, one logit) named after its label column.</summary>
    public static TaskSpec Binary(string column) => new(column, TaskKind.Binary, [column]);

    /// <summary>A multi-label task over k label columns of 0/1 (k = columns.Length).</summary>
    public static TaskSpec MultiLabel(string name, params string[] columns) => new(name, TaskKind.MultiLabel, columns);

    /// <summary>A classification task with its own name.</summary>
    public static TaskSpec Classification(string name, string column) => new(name, TaskKind.Classification, [column]);
}

/// <summary>
/// Which columns of a table are numeric inputs, categorical inputs (one-hot encoded) and task targets.
/// Columns of the file that the schema does not name are ignored; a name the file lacks is an error.
/// Immutable; the <c>With…</c> methods return a new schema.
/// </summary>
public sealed class TableSchema
{
    /// <summary>Numeric input columns, in feature order.</summary>
    public IReadOnlyList<string> NumericInputs { get; }

    /// <summary>Categorical input columns; each becomes a one-hot block after the numeric inputs.</summary>
    public IReadOnlyList<string> CategoricalInputs { get; }

    /// <summary>Categorical input columns the model embeds (<c>--embed</c>): each becomes one index column, after the one-hot
    /// blocks, holding the value's index in the column's vocabulary (fitted on the training split; unseen values get the
    /// reserved index <c>vocabulary.Count</c>).</summary>
    public IReadOnlyList<string> EmbeddedInputs { get; }

    /// <summary>The tasks, in order.</summary>
    public IReadOnlyList<TaskSpec> Tasks { get; }

    /// <summary>The column of per-row sample weights (maths §19.11), neither an input nor a target; null when the rows are
    /// unweighted. Written to the schema JSON (so a checkpoint records it) only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WeightColumn { get; }

    /// <summary>Creates a schema; every column may have one role only and task names must be distinct.</summary>
    [JsonConstructor]
    public TableSchema(IReadOnlyList<string> numericInputs, IReadOnlyList<string> categoricalInputs, IReadOnlyList<TaskSpec> tasks,
        IReadOnlyList<string>? embeddedInputs = null, string? weightColumn = null)
    {
        NumericInputs = (numericInputs ?? []).ToArray();
        CategoricalInputs = (categoricalInputs ?? []).ToArray();
        EmbeddedInputs = (embeddedInputs ?? []).ToArray();
        Tasks = (tasks ?? []).ToArray();
        WeightColumn = weightColumn;

        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        void Claim(string column, string role)
        {
            if (string.IsNullOrWhiteSpace(column)) throw new ArgumentException($"A {role} column has an empty name.");
            if (roles.TryGetValue(column, out var other))
                throw new ArgumentException(other == role
                    ? $"Column {Excerpt.Quote(column)} is named twice as {role}; name each column once."
                    : $"Column {Excerpt.Quote(column)} is both {other} and {role}; a column has one role.");
            roles[column] = role;
        }
        foreach (var c in NumericInputs) Claim(c, "a numeric input");
        foreach (var c in CategoricalInputs) Claim(c, "a categorical input");
        foreach (var c in EmbeddedInputs) Claim(c, "an embedded input");
        var taskNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in Tasks)
        {
            if (!taskNames.Add(t.Name)) throw new ArgumentException($"Two tasks are named '{t.Name}'.");
            foreach (var c in t.Columns) Claim(c, $"a target of task '{t.Name}'");
        }
        if (WeightColumn is not null) Claim(WeightColumn, "the sample-weight column");
    }

    /// <summary>A schema with no columns, to build on with the <c>With…</c> methods.</summary>
    public static TableSchema Empty { get; } = new([], [], []);

    /// <summary>Adds numeric input columns.</summary>
    public TableSchema WithNumeric(params string[] columns) => new([.. NumericInputs, .. columns], CategoricalInputs, Tasks, EmbeddedInputs, WeightColumn);

    /// <summary>Adds categorical (one-hot) input columns.</summary>
    public TableSchema WithCategorical(params string[] columns) => new(NumericInputs, [.. CategoricalInputs, .. columns], Tasks, EmbeddedInputs, WeightColumn);

    /// <summary>Adds embedded categorical input columns (<see cref="EmbeddedInputs"/>).</summary>
    public TableSchema WithEmbedded(params string[] columns) => new(NumericInputs, CategoricalInputs, Tasks, [.. EmbeddedInputs, .. columns], WeightColumn);

    /// <summary>Adds a task.</summary>
    public TableSchema WithTask(TaskSpec task) => new(NumericInputs, CategoricalInputs, [.. Tasks, task], EmbeddedInputs, WeightColumn);

    /// <summary>Adds one regression task per column, each named after its column.</summary>
    public TableSchema WithRegression(params string[] columns) =>
        new(NumericInputs, CategoricalInputs, [.. Tasks, .. columns.Select(TaskSpec.Regression)], EmbeddedInputs, WeightColumn);

    /// <summary>Adds one classification task per column, each named after its column.</summary>
    public TableSchema WithClassification(params string[] columns) =>
        new(NumericInputs, CategoricalInputs, [.. Tasks, .. columns.Select(TaskSpec.Classification)], EmbeddedInputs, WeightColumn);

    /// <summary>Adds one binary task (two classes, one logit) per column, each named after its column.</summary>
    public TableSchema WithBinary(params string[] columns) =>
        new(NumericInputs, CategoricalInputs, [.. Tasks, .. columns.Select(TaskSpec.Binary)], EmbeddedInputs, WeightColumn);

    /// <summary>The same columns with <paramref name="column"/> as the sample-weight column (§19.11).</summary>
    public TableSchema WithWeightColumn(string column) => new(NumericInputs, CategoricalInputs, Tasks, EmbeddedInputs, column);

    /// <summary>The same inputs without tasks (and without a weight column): for files to predict on, which have no target columns.</summary>
    public TableSchema InputsOnly() => new(NumericInputs, CategoricalInputs, [], EmbeddedInputs);

    /// <summary>The task with this name.</summary>
    public TaskSpec Task(string name) =>
        Tasks.FirstOrDefault(t => t.Name == name) ?? throw new KeyNotFoundException($"The schema has no task '{name}' (tasks: {string.Join(", ", Tasks.Select(t => t.Name))}).");

    /// <summary>The schema as JSON (stored in checkpoints under <c>engine.schema</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, DataJson.Options);

    /// <summary>Reads a schema written by <see cref="ToJson"/>.</summary>
    public static TableSchema FromJson(string json) =>
        JsonSerializer.Deserialize<TableSchema>(json, DataJson.Options) ?? throw new JsonException("The schema JSON is null.");
}

/// <summary>JSON settings shared by the data types (camelCase names, exact round-trip of doubles).</summary>
internal static class DataJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
    };
}
