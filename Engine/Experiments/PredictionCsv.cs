using System.Globalization;
using System.Text;
using Engine.Checkpoints;
using Engine.Data;

namespace Engine.Experiments;

/// <summary>
/// Writes predictions (<see cref="ModelEvaluation.PredictOriginalUnits"/>) as CSV, what <c>mtl predict</c> prints: per input row the
/// model's input columns as the file held them (numbers in shortest round-trip form, categories as their labels), then each
/// task's prediction: regression values in original units under the target column names, class labels as the strings
/// the training data used, and with <c>probabilities</c> one <c>P(task=label)</c> column per class. UTF-8 without a BOM,
/// <c>\n</c> line ends, RFC 4180 quoting of fields that hold the delimiter, a quote or a line break.
/// </summary>
public static class PredictionCsv
{
    /// <summary>Writes the CSV to <paramref name="path"/> atomically: the old file stays intact if this fails.</summary>
    public static void Write(string path, Dataset raw, IReadOnlyList<TaskOutput> outputs, bool probabilities = false, char delimiter = ',')
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = ToText(raw, outputs, probabilities, delimiter);   // checked before the file is touched
        AtomicFile.WriteAllBytes(path, s_utf8.GetBytes(text));
    }

    /// <summary>Writes the CSV to <paramref name="stream"/> (left open; not atomic, but nothing is written when the
    /// arguments are wrong).</summary>
    public static void Write(Stream stream, Dataset raw, IReadOnlyList<TaskOutput> outputs, bool probabilities = false, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(stream);
        var bytes = s_utf8.GetBytes(ToText(raw, outputs, probabilities, delimiter));
        stream.Write(bytes);
        stream.Flush();
    }

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private static void CheckRows(Dataset raw, IReadOnlyList<TaskOutput> outputs)
    {
        foreach (var o in outputs)
        {
            long have = o.Values is { } v ? v.Length / Math.Max(1, o.Columns.Count) : o.Labels?.Length ?? 0;
            if (have != raw.RowCount)
                throw new ArgumentException($"task '{o.Task}' has {have} predictions but {raw.Source} has {raw.RowCount} rows.", nameof(outputs));
        }
    }

    /// <summary>What the prediction CSV writes for an embedded input whose category the training split never had.</summary>
    public const string UnseenCategory = "<unseen>";

    /// <summary>The prediction CSV as text: header, then one line per input row.</summary>
    /// <exception cref="ArgumentException">An output does not have one prediction per row of <paramref name="raw"/> (the message names the task).</exception>
    public static string ToText(Dataset raw, IReadOnlyList<TaskOutput> outputs, bool probabilities = false, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(outputs);
        CheckRows(raw, outputs);
        var header = new List<string>(raw.Schema.NumericInputs);
        header.AddRange(raw.Schema.CategoricalInputs);
        header.AddRange(raw.Schema.EmbeddedInputs);
        foreach (var o in outputs)
        {
            header.AddRange(o.Columns);
            if (probabilities && o.ClassNames is not null) header.AddRange(o.ClassNames.Select(c => $"P({o.Task}={c})"));
        }
        var text = new StringBuilder();
        Line(text, header, delimiter);
        int numeric = raw.Schema.NumericInputs.Count;
        var fields = new List<string>(header.Count);
        for (int r = 0; r < raw.RowCount; r++)
        {
            fields.Clear();
            var row = raw.InputRow(r);
            for (int j = 0; j < numeric; j++) fields.Add(Number(row[j]));
            int slot = numeric;
            foreach (var column in raw.Schema.CategoricalInputs)
            {
                var vocabulary = raw.Encoding.Categories[column];
                int hot = 0;
                for (int v = 0; v < vocabulary.Count; v++) if (row[slot + v] == 1f) hot = v;
                fields.Add(vocabulary.LabelOf(hot));
                slot += vocabulary.Count;
            }
            foreach (var column in raw.Schema.EmbeddedInputs)   // an index; the reserved one (unseen in training) as <unseen>
            {
                var vocabulary = raw.Encoding.Categories[column];
                int index = (int)row[slot++];
                fields.Add(index < vocabulary.Count ? vocabulary.LabelOf(index) : UnseenCategory);
            }
            foreach (var o in outputs)
            {
                if (o.Values is { } values)
                    for (int k = 0; k < o.Columns.Count; k++) fields.Add(Number(values[r * o.Columns.Count + k]));
                else
                {
                    fields.Add(o.Labels![r]);
                    if (probabilities)
                        for (int c = 0; c < o.ClassNames!.Count; c++) fields.Add(Number(o.Probabilities![r * o.ClassNames.Count + c]));
                }
            }
            Line(text, fields, delimiter);
        }
        return text.ToString();
    }

    private static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One CSV record; fields holding the delimiter, a quote or a line break are quoted (RFC 4180).</summary>
    private static void Line(StringBuilder text, IReadOnlyList<string> fields, char delimiter)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0) text.Append(delimiter);
            var f = fields[i];
            if (f.IndexOfAny([delimiter, '"', '\n', '\r']) >= 0) text.Append('"').Append(f.Replace("\"", "\"\"")).Append('"');
            else text.Append(f);
        }
        text.Append('\n');
    }
}
