using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Data;

/// <summary>
/// The standardization of a dataset: one <see cref="Standardizer"/> for the input features (one-hot slots
/// pass through unchanged) and one per regression task. Fitted on the training rows only, applied to every
/// split, stored in the checkpoint (<c>engine.standardizer</c>) and inverted on regression predictions.
/// With a missing-input policy it also holds the <see cref="Imputation"/> (maths §19.12), applied first: a raw row is
/// imputed with the raw training means (indicator columns inserted), then standardized.
/// </summary>
public sealed class Standardization
{
    /// <summary>The input features' standardizer (Width = Dataset.InputCount).</summary>
    public Standardizer Inputs { get; }

    /// <summary>Regression task name → its targets' standardizer.</summary>
    public IReadOnlyDictionary<string, Standardizer> Targets { get; }

    /// <summary>The imputation of missing numeric inputs fitted with it (maths §19.12), or null: missing inputs are an error
    /// (<see cref="MissingInputs.Error"/>). <see cref="Inputs"/> scales the imputed layout, indicator columns included.</summary>
    public InputImputation? Imputation { get; }

    /// <summary>The width of a raw row, as <see cref="CsvTable"/> encodes it: <see cref="Inputs"/>' width less the indicator columns.</summary>
    public int RawInputCount => Inputs.Width - (Imputation?.Indicators.Count ?? 0);

    /// <summary>Creates a standardization; <paramref name="imputation"/>'s indicator columns must fit in <paramref name="inputs"/>' width.</summary>
    public Standardization(Standardizer inputs, IReadOnlyDictionary<string, Standardizer> targets, InputImputation? imputation = null)
    {
        if (imputation is not null && imputation.Columns.Count + imputation.Indicators.Count > inputs.Width)
            throw new ArgumentException($"The imputation's {imputation.Columns.Count} numeric and {imputation.Indicators.Count} indicator columns do not fit in {inputs.Width} inputs.", nameof(imputation));
        Inputs = inputs;
        Targets = new Dictionary<string, Standardizer>(targets, StringComparer.Ordinal);
        Imputation = imputation;
    }

    /// <summary>
    /// Fits on the rows <paramref name="trainRows"/> of <paramref name="data"/> only (the training split), so
    /// nothing of the validation or test rows leaks into training. With a <paramref name="missingInputs"/> policy other than
    /// <see cref="MissingInputs.Error"/>, the <see cref="Imputation"/> is fitted first on those rows and the input
    /// standardizer on the imputed values (so μ of a numeric column is its imputation mean, and an imputed cell standardizes
    /// to 0); the indicator columns pass through like one-hot slots.
    /// </summary>
    /// <exception cref="DataFileException">A regression target's scale is unusable in float32 (see <see cref="TargetHeadroom"/>);
    /// a numeric input is missing on every training row (<see cref="InputImputation.Fit"/>).</exception>
    public static Standardization Fit(Dataset data, ReadOnlySpan<int> trainRows, MissingInputs missingInputs = MissingInputs.Error)
    {
        if (!Enum.IsDefined(missingInputs)) throw new ArgumentOutOfRangeException(nameof(missingInputs), missingInputs, "Unknown missing-input policy.");
        var imputation = missingInputs == MissingInputs.Error ? null : InputImputation.Fit(data, trainRows, missingInputs);
        if (imputation is not null) data = imputation.Apply(data);
        int numeric = data.Schema.NumericInputs.Count;
        var passThrough = new bool[data.InputCount];
        for (int j = numeric; j < passThrough.Length; j++) passThrough[j] = true; // indicator columns, one-hot slots, embedded indices
        var inputs = Standardizer.Fit(data.Inputs, data.InputCount, trainRows, passThrough);
        var targets = new Dictionary<string, Standardizer>(StringComparer.Ordinal);
        foreach (var t in data.Tasks.OfType<RegressionTargets>())
        {
            try { targets[t.Name] = Standardizer.Fit(t.Values, t.Width, trainRows); }
            catch (ArgumentException e) when (e.ParamName == "values")
            {
                throw new ArgumentException($"{data.Source}: regression task '{t.Name}' has no label on the {trainRows.Length} training rows.", nameof(data), e);
            }
            CheckTargetScale(data, t, targets[t.Name], trainRows);
        }
        return new Standardization(inputs, targets, imputation);
    }

    /// <summary>
    /// <paramref name="data"/> with its missing numeric inputs filled by <see cref="Imputation"/> (and the indicator columns
    /// inserted) when it is a raw dataset (<see cref="RawInputCount"/> inputs); otherwise — no imputation, or a dataset
    /// already imputed — unchanged.
    /// </summary>
    public Dataset Impute(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Imputation is null || data.InputCount != RawInputCount ? data : Imputation.Apply(data);
    }

    /// <summary>
    /// How far from the training mean, in training standard deviations, an input may lie and still be used: 10⁶.
    /// Beyond it (e.g. 3·10³⁸ in a column whose training values are about 1) the network's first layer overflows float32
    /// and predicts NaN, so such a value is an error naming its row and column instead.
    /// </summary>
    public const double MaxStandardizedInput = 1e6;

    /// <summary>
    /// A regression target's predictions are mapped back as z·σ + μ in float32: a scale with |μ| + <see cref="TargetHeadroom"/>·σ
    /// beyond float32's range (about 3.4·10³⁸) would overflow for ordinary predictions (|z| up to 100), so it is refused when
    /// the data is loaded, not discovered as a "diverged" loss after training.
    /// </summary>
    public const double TargetHeadroom = 100;

    private static void CheckTargetScale(Dataset data, RegressionTargets t, Standardizer s, ReadOnlySpan<int> trainRows)
    {
        for (int j = 0; j < t.Width; j++)
        {
            double reach = Math.Abs(s.Mean[j]) + TargetHeadroom * s.Std[j];
            if (reach <= float.MaxValue) continue;
            int worst = trainRows[0];
            foreach (int r in trainRows)
                if (Math.Abs(t.Values[r * t.Width + j]) > Math.Abs(t.Values[worst * t.Width + j])) worst = r;
            throw new DataFileException(data.Source, data.SourceLines[worst], t.Columns[j],
                $"the target values are too large to learn in float32 (mean {s.Mean[j]:G3}, standard deviation {s.Std[j]:G3}; this row holds " +
                $"{t.Values[worst * t.Width + j]:G3}): predictions z·σ + μ would overflow. Rescale the column (e.g. divide it by 10^30).");
        }
    }

    /// <summary>
    /// The standardized inputs of <paramref name="data"/> ([rows × Inputs.Width], one-hot slots unchanged), each checked to be
    /// finite and within <see cref="MaxStandardizedInput"/> of the training mean. A raw dataset is imputed first (<see cref="Impute"/>).
    /// </summary>
    /// <exception cref="DataFileException">A value is out of that range; the message names the file, line and column.</exception>
    public float[] StandardizeInputs(Dataset data)
    {
        data = Impute(data);
        if (data.InputCount != Inputs.Width)
            throw new ArgumentException($"{data.Source} has {data.InputCount} input features but the standardization was fitted on {Inputs.Width}.", nameof(data));
        var inputs = (float[])data.Inputs.Clone();
        Inputs.Transform(inputs);
        int width = data.InputCount;
        for (int i = 0; i < inputs.Length; i++)
        {
            float z = inputs[i];
            if (float.IsFinite(z) && Math.Abs(z) <= MaxStandardizedInput) continue;
            int row = i / width, column = i % width;
            if (float.IsNaN(data.Inputs[i]))   // a missing cell read under a policy, but this standardization has no imputation
                throw new DataFileException(data.Source, data.SourceLines[row], data.InputNames[column],
                    "missing value, and the standardization has no imputation (fitted with --missing-inputs error) to fill it.");
            throw new DataFileException(data.Source, data.SourceLines[row], data.InputNames[column],
                $"the value {data.Inputs[i]:G9} is {(double)(data.Inputs[i] - Inputs.Mean[column]) / Inputs.Std[column]:G3} training standard deviations " +
                $"from the training mean ({Inputs.Mean[column]:G6}); beyond {MaxStandardizedInput:G} the network overflows float32. " +
                "Check the value, or rescale the column.");
        }
        return inputs;
    }

    /// <summary>Fits on every row of <paramref name="train"/> (a dataset that already is the training split).</summary>
    public static Standardization Fit(Dataset train) => Fit(train, Enumerable.Range(0, train.RowCount).ToArray());

    /// <summary>A standardized copy of <paramref name="data"/> (inputs and regression targets; class targets unchanged), imputed
    /// first when it is raw (<see cref="Impute"/>).</summary>
    /// <exception cref="DataFileException">An input lies beyond <see cref="MaxStandardizedInput"/> (see <see cref="StandardizeInputs"/>).</exception>
    public Dataset Apply(Dataset data)
    {
        data = Impute(data);
        if (data.InputCount != Inputs.Width)
            throw new ArgumentException($"{data.Source} has {data.InputCount} input features but the standardization was fitted on {Inputs.Width}.", nameof(data));
        var inputs = StandardizeInputs(data);
        var tasks = data.Tasks.Select(t =>
        {
            if (t is not RegressionTargets r) return t;
            var values = (float[])r.Values.Clone();
            Target(r.Name).Transform(values);
            return r.WithValues(values);
        }).ToList();
        return data.With(inputs, tasks);
    }

    /// <summary>The standardizer of a regression task.</summary>
    public Standardizer Target(string task) =>
        Targets.TryGetValue(task, out var s) ? s
            : throw new KeyNotFoundException($"No standardizer for regression task '{task}' (have: {string.Join(", ", Targets.Keys)}).");

    /// <summary>In place: maps standardized predictions of a regression task back to the data's units.</summary>
    public void InverseTargets(string task, Span<float> predictions) => Target(task).InverseTransform(predictions);

    /// <summary>
    /// As JSON: <c>{"inputs":{"mean":[…],"std":[…]},"targets":{task:{"mean":[…],"std":[…]}}}</c>, with an
    /// <see cref="Imputation"/> also <c>"missingInputs":{"policy":"mean"|"mean-indicator","columns":[…],"mean":[…],"indicators":[…]}</c>
    /// (absent without one, so files of models without it are unchanged).
    /// Doubles are written in shortest round-trip form, so <see cref="FromJson"/> gives back the exact values.
    /// </summary>
    public string ToJson()
    {
        static JsonObject Of(Standardizer s) => new()
        {
            ["mean"] = new JsonArray(s.Mean.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
            ["std"] = new JsonArray(s.Std.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
        };
        var targets = new JsonObject();
        foreach (var (k, s) in Targets.OrderBy(p => p.Key, StringComparer.Ordinal)) targets[k] = Of(s);
        var root = new JsonObject { ["inputs"] = Of(Inputs), ["targets"] = targets };
        if (Imputation is { } m)
            root[ImputationKey] = new JsonObject
            {
                ["policy"] = PolicyName(m.Policy),
                ["columns"] = new JsonArray(m.Columns.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
                ["mean"] = new JsonArray(m.Means.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
                ["indicators"] = new JsonArray(m.Indicators.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray()),
            };
        return root.ToJsonString();
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote.</summary>
    public static Standardization FromJson(string json)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("The standardization JSON must be an object.");
        static Standardizer Of(JsonNode? node, string where)
        {
            if (node is not JsonObject o || o["mean"] is not JsonArray mean || o["std"] is not JsonArray std)
                throw new JsonException($"'{where}' must be an object with 'mean' and 'std' lists.");
            static double[] Values(JsonArray a, string where) =>
                a.Select(v => v?.GetValue<double>() ?? throw new JsonException($"'{where}' holds a null.")).ToArray();
            return new Standardizer(Values(mean, where + ".mean"), Values(std, where + ".std"));
        }
        var targets = new Dictionary<string, Standardizer>(StringComparer.Ordinal);
        if (root["targets"] is JsonObject t)
            foreach (var (k, v) in t) targets[k] = Of(v, "targets." + k);
        return new Standardization(Of(root["inputs"], "inputs"), targets, ImputationOf(root[ImputationKey]));
    }

    private const string ImputationKey = "missingInputs";

    /// <summary>The policy as <c>mtl train --missing-inputs</c> names it.</summary>
    public static string PolicyName(MissingInputs policy) => policy switch
    {
        MissingInputs.Error => "error",
        MissingInputs.Mean => "mean",
        MissingInputs.MeanIndicator => "mean-indicator",
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "Unknown missing-input policy."),
    };

    private static InputImputation? ImputationOf(JsonNode? node)
    {
        if (node is null) return null;
        if (node is not JsonObject o || o["columns"] is not JsonArray columns || o["mean"] is not JsonArray mean || o["indicators"] is not JsonArray indicators)
            throw new JsonException($"'{ImputationKey}' must be an object with 'policy', 'columns', 'mean' and 'indicators'.");
        var name = o["policy"]?.GetValue<string>();
        var policy = Enum.GetValues<MissingInputs>().Where(p => p != MissingInputs.Error).Cast<MissingInputs?>().FirstOrDefault(p => PolicyName(p!.Value) == name)
            ?? throw new JsonException($"'{ImputationKey}.policy' is '{name}', not mean or mean-indicator.");
        static T[] Values<T>(JsonArray a, string where) =>
            a.Select(v => v is null ? throw new JsonException($"'{where}' holds a null.") : v.GetValue<T>()).ToArray();
        return new InputImputation(policy, Values<string>(columns, ImputationKey + ".columns"), Values<double>(mean, ImputationKey + ".mean"),
            Values<string>(indicators, ImputationKey + ".indicators"));
    }
}
