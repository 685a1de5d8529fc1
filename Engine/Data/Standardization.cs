using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Data;

/// <summary>
/// The standardization of a dataset: one <see cref="Standardizer"/> for the input features (one-hot slots
/// pass through unchanged) and one per regression task. Fitted on the training rows only, applied to every
/// split, stored in the checkpoint (<c>engine.standardizer</c>) and inverted on regression predictions.
/// </summary>
public sealed class Standardization
{
    /// <summary>The input features' standardizer (Width = Dataset.InputCount).</summary>
    public Standardizer Inputs { get; }

    /// <summary>Regression task name → its targets' standardizer.</summary>
    public IReadOnlyDictionary<string, Standardizer> Targets { get; }

    /// <summary>Creates a standardization.</summary>
    public Standardization(Standardizer inputs, IReadOnlyDictionary<string, Standardizer> targets)
    {
        Inputs = inputs;
        Targets = new Dictionary<string, Standardizer>(targets, StringComparer.Ordinal);
    }

    /// <summary>
    /// Fits on the rows <paramref name="trainRows"/> of <paramref name="data"/> only (the training split), so
    /// nothing of the validation or test rows leaks into training.
    /// </summary>
    /// <exception cref="DataFileException">A regression target's scale is unusable in float32 (see <see cref="TargetHeadroom"/>).</exception>
    public static Standardization Fit(Dataset data, ReadOnlySpan<int> trainRows)
    {
        int numeric = data.Schema.NumericInputs.Count;
        var passThrough = new bool[data.InputCount];
        for (int j = numeric; j < passThrough.Length; j++) passThrough[j] = true; // one-hot slots
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
        return new Standardization(inputs, targets);
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
    /// The standardized inputs of <paramref name="data"/> ([rows × InputCount], one-hot slots unchanged), each checked to be
    /// finite and within <see cref="MaxStandardizedInput"/> of the training mean.
    /// </summary>
    /// <exception cref="DataFileException">A value is out of that range; the message names the file, line and column.</exception>
    public float[] StandardizeInputs(Dataset data)
    {
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
            throw new DataFileException(data.Source, data.SourceLines[row], data.InputNames[column],
                $"the value {data.Inputs[i]:G9} is {(double)(data.Inputs[i] - Inputs.Mean[column]) / Inputs.Std[column]:G3} training standard deviations " +
                $"from the training mean ({Inputs.Mean[column]:G6}); beyond {MaxStandardizedInput:G} the network overflows float32. " +
                "Check the value, or rescale the column.");
        }
        return inputs;
    }

    /// <summary>Fits on every row of <paramref name="train"/> (a dataset that already is the training split).</summary>
    public static Standardization Fit(Dataset train) => Fit(train, Enumerable.Range(0, train.RowCount).ToArray());

    /// <summary>A standardized copy of <paramref name="data"/> (inputs and regression targets; class targets unchanged).</summary>
    /// <exception cref="DataFileException">An input lies beyond <see cref="MaxStandardizedInput"/> (see <see cref="StandardizeInputs"/>).</exception>
    public Dataset Apply(Dataset data)
    {
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
    /// As JSON: <c>{"inputs":{"mean":[…],"std":[…]},"targets":{task:{"mean":[…],"std":[…]}}}</c>.
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
        return new JsonObject { ["inputs"] = Of(Inputs), ["targets"] = targets }.ToJsonString();
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
        return new Standardization(Of(root["inputs"], "inputs"), targets);
    }
}
