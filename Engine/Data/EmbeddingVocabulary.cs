namespace Engine.Data;

/// <summary>
/// The vocabularies of embedded input columns (<see cref="TableSchema.EmbeddedInputs"/>): fitted on the training split only,
/// so the model's table has a row for exactly the categories it is trained on, and every other value — a category only the
/// validation or test rows have, or one a later file brings — reads the reserved last row. Unseen values are counted, not
/// errors (<see cref="UnseenCounts"/>).
/// </summary>
public static class EmbeddingVocabulary
{
    /// <summary>
    /// A copy of <paramref name="data"/> whose embedded columns' vocabularies hold only the values of the rows
    /// <paramref name="trainRows"/> (in <see cref="LabelMap.Fit"/>'s order), every row's index re-pointed into them and the
    /// other values at the reserved index (the vocabulary's count). The data unchanged when it embeds no column.
    /// </summary>
    public static Dataset FitOnRows(Dataset data, ReadOnlySpan<int> trainRows)
    {
        ArgumentNullException.ThrowIfNull(data);
        var embedded = data.Schema.EmbeddedInputs;
        if (embedded.Count == 0) return data;
        if (trainRows.IsEmpty) throw new ArgumentException($"{data.Source}: no training rows to fit the embedded columns' vocabularies on.", nameof(trainRows));
        var inputs = (float[])data.Inputs.Clone();
        var categories = new Dictionary<string, LabelMap>(data.Encoding.Categories, StringComparer.Ordinal);
        int width = data.InputCount, first = width - embedded.Count;
        for (int t = 0; t < embedded.Count; t++)
        {
            var old = categories[embedded[t]];
            var seen = new bool[old.Count];
            foreach (int r in trainRows)
            {
                int i = (int)inputs[(long)r * width + first + t];
                if (i < old.Count) seen[i] = true;
            }
            var fitted = LabelMap.Fit(Enumerable.Range(0, old.Count).Where(i => seen[i]).Select(old.LabelOf));
            var remap = new float[old.Count + 1];
            for (int i = 0; i <= old.Count; i++)
                remap[i] = i < old.Count && fitted.TryGetIndex(old.LabelOf(i), out int j) ? j : fitted.Count;
            for (int r = 0; r < data.RowCount; r++)
            {
                ref float v = ref inputs[(long)r * width + first + t];
                v = remap[(int)v];
            }
            categories[embedded[t]] = fitted;
        }
        var encoding = new DataEncoding(categories, data.Encoding.Labels);
        return new Dataset(data.Source, data.Schema, encoding, data.InputNames, inputs, data.Tasks, data.SourceLines, data.SampleWeights);
    }

    /// <summary>Per embedded column (schema order), the rows of <paramref name="data"/> whose value its vocabulary lacks
    /// (read through the reserved row).</summary>
    public static IReadOnlyList<(string Column, int Rows)> UnseenCounts(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var embedded = data.Schema.EmbeddedInputs;
        int width = data.InputCount, first = width - embedded.Count;
        var counts = new (string, int)[embedded.Count];
        for (int t = 0; t < embedded.Count; t++)
        {
            int reserved = data.Encoding.Categories[embedded[t]].Count, n = 0;
            for (int r = 0; r < data.RowCount; r++)
                if (data.Inputs[(long)r * width + first + t] == reserved) n++;
            counts[t] = (embedded[t], n);
        }
        return counts;
    }

    /// <summary>One line per embedded column with unseen values, for predict and evaluate: <c>embedded column 'city': 3 of 120
    /// rows have a category unseen in training (read through its reserved row)</c>; empty when there are none.</summary>
    public static IEnumerable<string> DescribeUnseen(Dataset data) =>
        UnseenCounts(data).Where(c => c.Rows > 0).Select(c =>
            $"{data.Source}: embedded column '{c.Column}': {c.Rows} of {data.RowCount} rows have a category unseen in training (read through its reserved row).");
}
