using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Data;

/// <summary>
/// How the non-numeric columns of a table are turned into numbers: the vocabulary of each categorical input
/// (its one-hot slots) and the label map of each classification task. Fitted on the training file, stored
/// in the checkpoint (<c>engine.labels</c>), and passed to <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/> for new data so that
/// indices mean the same thing; a value the training data never had is then an error.
/// </summary>
public sealed class DataEncoding
{
    /// <summary>Categorical input column → its vocabulary (slot i of the one-hot block is value i).</summary>
    public IReadOnlyDictionary<string, LabelMap> Categories { get; }

    /// <summary>Classification task name → its label map.</summary>
    public IReadOnlyDictionary<string, LabelMap> Labels { get; }

    /// <summary>Creates an encoding.</summary>
    public DataEncoding(IReadOnlyDictionary<string, LabelMap> categories, IReadOnlyDictionary<string, LabelMap> labels)
    {
        Categories = new Dictionary<string, LabelMap>(categories, StringComparer.Ordinal);
        Labels = new Dictionary<string, LabelMap>(labels, StringComparer.Ordinal);
    }

    /// <summary>No categories, no labels.</summary>
    public static DataEncoding Empty { get; } = new(new Dictionary<string, LabelMap>(), new Dictionary<string, LabelMap>());

    /// <summary>As JSON: <c>{"categories":{column:[values…]},"labels":{task:[labels…]}}</c>; list position = index.</summary>
    public string ToJson()
    {
        static JsonObject Maps(IReadOnlyDictionary<string, LabelMap> maps)
        {
            var o = new JsonObject();
            foreach (var (k, m) in maps.OrderBy(p => p.Key, StringComparer.Ordinal))
                o[k] = new JsonArray(m.Labels.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());
            return o;
        }
        return new JsonObject { ["categories"] = Maps(Categories), ["labels"] = Maps(Labels) }.ToJsonString();
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote.</summary>
    public static DataEncoding FromJson(string json)
    {
        var root = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("The encoding JSON must be an object.");
        static Dictionary<string, LabelMap> Maps(JsonNode? node, string key)
        {
            var result = new Dictionary<string, LabelMap>(StringComparer.Ordinal);
            if (node is null) return result;
            if (node is not JsonObject o) throw new JsonException($"'{key}' must be an object of label lists.");
            foreach (var (name, list) in o)
            {
                if (list is not JsonArray a) throw new JsonException($"'{key}.{name}' must be a list of strings.");
                result[name] = new LabelMap(a.Select(v => v?.GetValue<string>() ?? throw new JsonException($"'{key}.{name}' holds a null label.")));
            }
            return result;
        }
        return new DataEncoding(Maps(root["categories"], "categories"), Maps(root["labels"], "labels"));
    }
}
