using System.Globalization;
using CsvHelper;

namespace Engine.Data;

/// <summary>
/// Loads a CSV file into a <see cref="Dataset"/>. Parsing (header row, separators, RFC 4180 quoting) is done by
/// CsvHelper; this class maps columns to their roles, parses numbers culture-invariantly, one-hot encodes
/// categorical inputs and indexes class labels, and turns every kind of bad data into a
/// <see cref="DataFileException"/> that names the file, the line and the column.
/// </summary>
public static class CsvTable
{
    /// <summary>Field values read as a missing value (besides the empty field), compared ignoring case.</summary>
    public static IReadOnlyList<string> MissingMarkers { get; } = ["NA", "N/A", "NaN", "null", "?"];

    /// <summary>
    /// Reads <paramref name="path"/>.
    /// </summary>
    /// <param name="path">The CSV file: a header row, then one record per line (quoted fields may span lines).</param>
    /// <param name="schema">Column roles. Null: every column is an input — numeric where every value is a
    /// number, categorical otherwise — and there are no tasks.</param>
    /// <param name="delimiter">The field separator; null detects it from the first lines (<c>,</c> <c>;</c> tab or <c>|</c>).</param>
    /// <param name="encoding">The vocabularies and label maps to use, from the training data (for validation,
    /// test or prediction files). Null fits them on this file. With an encoding, a category or label it lacks is an error.</param>
    /// <exception cref="DataFileException">Empty file, invalid UTF-8 (without <paramref name="text"/>), duplicate or unknown column, ragged row, missing value,
    /// non-numeric text in a numeric column, a label or category the encoding has never seen, malformed quoting.</exception>
    /// <param name="text">The file's text encoding (e.g. <c>Encoding.Latin1</c>). Null: UTF-8, checked — an invalid byte
    /// sequence is an error naming its line and column, never decoded to U+FFFD.</param>
    /// <param name="missingLabels">What a missing cell in a target column means: no label for that task in that row
    /// (<see cref="MissingLabels.Allow"/>, the default) or an error (<see cref="MissingLabels.Error"/>).</param>
    /// <param name="missingInputs">What a missing cell in an input column means (maths §19.12): an error
    /// (<see cref="MissingInputs.Error"/>, the default), or — for any other policy — kept missing: NaN in a numeric column (NaN is
    /// the mask: a parsed number is always finite), the reserved index (the vocabulary's count) in an embedded column. A one-hot
    /// column has no missing category, so a missing cell there is an error under every policy. The filling itself is
    /// <see cref="InputImputation"/>'s, fitted on the training split.</param>
    public static Dataset Load(string path, TableSchema? schema = null, char? delimiter = null, DataEncoding? encoding = null, System.Text.Encoding? text = null,
        MissingLabels missingLabels = MissingLabels.Allow, MissingInputs missingInputs = MissingInputs.Error)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Enum.IsDefined(missingLabels)) throw new ArgumentOutOfRangeException(nameof(missingLabels), missingLabels, "Unknown missing-label policy.");
        if (!Enum.IsDefined(missingInputs)) throw new ArgumentOutOfRangeException(nameof(missingInputs), missingInputs, "Unknown missing-input policy.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var raw = ReadRecords(file, path, delimiter, text);
        schema ??= InferSchema(raw);
        return Encode(raw, schema, encoding, missingLabels == MissingLabels.Allow, missingInputs != MissingInputs.Error);
    }

    /// <summary>
    /// As <see cref="Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/>, from the rest of
    /// <paramref name="stream"/> (left open; a stream that cannot seek is read into memory first, as the UTF-8 check and the
    /// parse each need a pass). Messages name <paramref name="source"/>, by default the file of a <see cref="FileStream"/> or
    /// the stream's type (<c>&lt;MemoryStream&gt;</c>), with the line and column. <paramref name="progress"/>, if given, hears
    /// the bytes parsed after each read of the parser (synchronously, on this thread).
    /// </summary>
    public static Dataset Load(Stream stream, TableSchema? schema = null, char? delimiter = null, DataEncoding? encoding = null, System.Text.Encoding? text = null,
        MissingLabels missingLabels = MissingLabels.Allow, string? source = null, IProgress<ReadProgress>? progress = null, MissingInputs missingInputs = MissingInputs.Error)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!Enum.IsDefined(missingLabels)) throw new ArgumentOutOfRangeException(nameof(missingLabels), missingLabels, "Unknown missing-label policy.");
        if (!Enum.IsDefined(missingInputs)) throw new ArgumentOutOfRangeException(nameof(missingInputs), missingInputs, "Unknown missing-input policy.");
        source = Checkpoints.StreamNames.Of(stream, source);
        using var seekable = stream.CanSeek ? null : new MemoryStream(Checkpoints.StreamNames.ReadToEnd(stream), writable: false);
        var raw = ReadRecords(seekable ?? stream, source, delimiter, text, progress);
        schema ??= InferSchema(raw);
        return Encode(raw, schema, encoding, missingLabels == MissingLabels.Allow, missingInputs != MissingInputs.Error);
    }

    /// <summary>The header and records of a file as strings, with the line each record starts on.</summary>
    private sealed record RawTable(string Path, string[] Header, List<string[]> Records, List<int> Lines);

    /// <summary>Reads the records from the current position of a seekable <paramref name="stream"/> (left open);
    /// <paramref name="path"/> names it in messages.</summary>
    private static RawTable ReadRecords(Stream stream, string path, char? delimiter, System.Text.Encoding? text, IProgress<ReadProgress>? progress = null)
    {
        long start = stream.Position, length = stream.Length - start;
        if (length == 0 || (length < 4096 && IsBlank(stream, (int)length, text)))
            throw new DataFileException(path, 1, null, "the file is empty; expected a header row with the column names.");
        if (text is null) Utf8Validation.Check(stream, path, delimiter);
        stream.Position = start;

        var options = new CsvReaderOptions
        {
            Encoding = text,
            Separator = delimiter,
            HasHeader = true,
            TrimWhitespace = true,
            TrackLineNumbers = true,
            SkipEmptyLines = true,
            MalformedData = CsvMalformedDataHandling.Throw,
            FieldCountMismatch = CsvFieldCountHandling.Allow, // checked below, to name the column
            FormatProvider = CultureInfo.InvariantCulture,
        };
        try
        {
            using var reader = CsvReader.Create(progress is null ? stream : new ProgressStream(stream, path, progress), options, leaveOpen: true);
            var header = reader.Headers.Select(h => h.Trim()).ToArray();
            if (header.Length == 0 || header.All(h => h.Length == 0))
                throw new DataFileException(path, 1, null, "the file is empty; expected a header row with the column names.");
            CheckHeader(path, header);
            var records = new List<string[]>();
            var lines = new List<int>();
            while (reader.Read())
            {
                int line = checked((int)reader.LineNumber);
                if (reader.FieldCount < header.Length)
                    throw new DataFileException(path, line, header[reader.FieldCount],
                        $"the row has {reader.FieldCount} fields but the header has {header.Length}; this column and those after it are missing.");
                if (reader.FieldCount > header.Length)
                    throw new DataFileException(path, line, null,
                        $"the row has {reader.FieldCount} fields but the header has {header.Length} (extra fields after the last column {Excerpt.Quote(header[^1])}).");
                var fields = new string[header.Length];
                for (int i = 0; i < fields.Length; i++) fields[i] = reader.GetString(i) ?? "";
                records.Add(fields);
                lines.Add(line);
            }
            if (records.Count == 0)
                throw new DataFileException(path, 2, null, "the file has a header row but no data rows.");
            return new RawTable(path, header, records, lines);
        }
        catch (CsvFormatException e)
        {
            throw new DataFileException(path, e.LineNumber, null, $"malformed CSV: {e.Message}", e);
        }
    }

    /// <summary>Whether the next <paramref name="length"/> bytes are only white space (the position is restored).</summary>
    private static bool IsBlank(Stream stream, int length, System.Text.Encoding? text)
    {
        long start = stream.Position;
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        stream.Position = start;
        return (text ?? System.Text.Encoding.UTF8).GetString(bytes).Trim().Length == 0;
    }

    private static void CheckHeader(string path, string[] header)
    {
        if (header.Length == 0) throw new DataFileException(path, 1, null, "the header row has no column names.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < header.Length; i++)
        {
            if (header[i].Length == 0)
                throw new DataFileException(path, 1, $"#{i + 1}", $"column {i + 1} of the header has no name.");
            if (!seen.Add(header[i]))
                throw new DataFileException(path, 1, header[i], "the header names this column twice.");
        }
    }

    /// <summary>Without a schema: every column is an input, numeric where every value is a number.</summary>
    private static TableSchema InferSchema(RawTable raw)
    {
        var numeric = new List<string>();
        var categorical = new List<string>();
        for (int c = 0; c < raw.Header.Length; c++)
        {
            bool allNumbers = raw.Records.All(r => r[c].Length == 0 || IsMissing(r[c]) || TryNumber(r[c], out _));
            (allNumbers ? numeric : categorical).Add(raw.Header[c]);
        }
        return new TableSchema(numeric, categorical, []);
    }

    private static Dataset Encode(RawTable raw, TableSchema schema, DataEncoding? given, bool allowMissingLabels, bool allowMissingInputs)
    {
        int Column(string name)
        {
            int i = Array.IndexOf(raw.Header, name);
            if (i < 0)
                throw new DataFileException(raw.Path, 1, name,
                    $"the schema names this column but the header has no such column (columns: {string.Join(", ", raw.Header)}).");
            return i;
        }
        int rows = raw.Records.Count;

        // Vocabularies and label maps: given (from training) or fitted on this file.
        var categories = new Dictionary<string, LabelMap>(StringComparer.Ordinal);
        foreach (var name in schema.CategoricalInputs.Concat(schema.EmbeddedInputs))
        {
            int c = Column(name);
            bool embedded = schema.EmbeddedInputs.Contains(name);
            categories[name] = given is null
                ? LabelMap.Fit(allowMissingInputs && embedded ? LabelsOf(raw, c) : ValuesOf(raw, c, name, allowMissingInputs))
                : given.Categories.TryGetValue(name, out var m) ? m
                : throw new ArgumentException($"The encoding has no vocabulary for categorical column '{name}'.", nameof(given));
        }
        var labels = new Dictionary<string, LabelMap>(StringComparer.Ordinal);
        foreach (var task in schema.Tasks.Where(t => t.Kind is TaskKind.Classification or TaskKind.Binary))
        {
            int c = Column(task.Columns[0]);
            labels[task.Name] = given is null
                ? LabelMap.Fit(allowMissingLabels ? LabelsOf(raw, c) : ValuesOf(raw, c, task.Columns[0]))
                : given.Labels.TryGetValue(task.Name, out var m) ? m
                : throw new ArgumentException($"The encoding has no label map for task '{task.Name}'.", nameof(given));
            if (task.Kind == TaskKind.Binary && labels[task.Name].Count != 2)
                throw new DataFileException(raw.Path, 1, task.Columns[0],
                    $"--binary needs exactly two classes, but the column has {labels[task.Name].Count}: {string.Join(", ", labels[task.Name].Labels.Take(5).Select(Excerpt.Quote))}{(labels[task.Name].Count > 5 ? ", …" : "")}.");
        }
        var encoding = given ?? new DataEncoding(categories, labels);

        // Features: numeric inputs, then one one-hot block per categorical input, then one index column per embedded input.
        var inputNames = new List<string>(schema.NumericInputs);
        foreach (var name in schema.CategoricalInputs) inputNames.AddRange(categories[name].Labels.Select(v => $"{name}={v}"));
        inputNames.AddRange(schema.EmbeddedInputs);
        int width = inputNames.Count;
        var inputs = new float[(long)rows * width];
        int offset = 0;
        foreach (var name in schema.NumericInputs)
        {
            int c = Column(name);
            for (int r = 0; r < rows; r++)
                inputs[(long)r * width + offset] = !IsAbsent(raw.Records[r][c]) ? Number(raw, r, c)
                    : allowMissingInputs ? float.NaN : throw MissingNumericInput(raw, r, c);
            offset++;
        }
        foreach (var name in schema.CategoricalInputs)
        {
            int c = Column(name);
            var vocabulary = categories[name];
            for (int r = 0; r < rows; r++)
                inputs[(long)r * width + offset + Index(raw, r, c, vocabulary, "category", allowMissingInputs)] = 1f;
            offset += vocabulary.Count;
        }
        foreach (var name in schema.EmbeddedInputs)
        {
            // A value the vocabulary lacks gets the reserved index Count (the table's last row), not an error; so does a
            // missing cell when missing inputs are allowed.
            int c = Column(name);
            var vocabulary = categories[name];
            for (int r = 0; r < rows; r++)
                inputs[(long)r * width + offset] = allowMissingInputs && IsAbsent(raw.Records[r][c]) ? vocabulary.Count
                    : vocabulary.TryGetIndex(Present(raw, r, c), out int index) ? index : vocabulary.Count;
            offset++;
        }

        var tasks = new List<TaskTargets>();
        foreach (var task in schema.Tasks)
        {
            if (task.Kind == TaskKind.Regression)
            {
                int k = task.Columns.Count;
                var values = new float[(long)rows * k];
                for (int j = 0; j < k; j++)
                {
                    int c = Column(task.Columns[j]);
                    for (int r = 0; r < rows; r++)
                        values[(long)r * k + j] = allowMissingLabels && IsAbsent(raw.Records[r][c]) ? float.NaN : Number(raw, r, c);
                }
                tasks.Add(new RegressionTargets(task.Name, task.Columns, values));
            }
            else if (task.Kind == TaskKind.MultiLabel) tasks.Add(MultiLabel(raw, task, Column, allowMissingLabels));
            else
            {
                int c = Column(task.Columns[0]);
                var map = labels[task.Name];
                var classes = new int[rows];
                for (int r = 0; r < rows; r++)
                    classes[r] = allowMissingLabels && IsAbsent(raw.Records[r][c]) ? ClassTargets.Missing : Index(raw, r, c, map, "class label");
                tasks.Add(new ClassTargets(task.Name, task.Columns[0], map, classes, task.Kind));
            }
        }
        var weights = schema.WeightColumn is null ? null : SampleWeights(raw, Column(schema.WeightColumn), tasks);
        return new Dataset(raw.Path, schema, encoding, inputNames, inputs, tasks, raw.Lines.ToArray(), weights);
    }

    /// <summary>The sample-weight column (maths §19.11): every cell a finite number ≥ 0 (a missing or unparseable cell is an
    /// error naming the file, row and column), and for every task some labelled row of positive weight.</summary>
    private static float[] SampleWeights(RawTable raw, int c, IReadOnlyList<TaskTargets> tasks)
    {
        var weights = new float[raw.Records.Count];
        for (int r = 0; r < weights.Length; r++)
        {
            float w = Number(raw, r, c);
            weights[r] = w >= 0 ? w
                : throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c], $"the sample weight {Excerpt.Quote(raw.Records[r][c])} is negative; weights must be ≥ 0.");
        }
        foreach (var task in tasks)
        {
            bool anyLabelled = false, anyWeighted = false;
            for (int r = 0; r < weights.Length && !anyWeighted; r++)
                if (IsLabelled(task, r)) { anyLabelled = true; anyWeighted = weights[r] > 0; }
            if (anyLabelled && !anyWeighted)
                throw new DataFileException(raw.Path, 1, raw.Header[c],
                    $"every row labelled for task '{task.Name}' has sample weight 0, so the task's weighted loss would be 0/0; give some of its rows a positive weight.");
        }
        return weights;
    }

    /// <summary>Whether row r carries a label (any label, for a multi-column task) of the task.</summary>
    private static bool IsLabelled(TaskTargets task, int r) => task switch
    {
        RegressionTargets t => HasNumber(t.Values.AsSpan(r * t.Width, t.Width)),
        MultiLabelTargets m => m.Labels.AsSpan(r * m.Width, m.Width).ContainsAnyExcept(MultiLabelTargets.Missing),
        ClassTargets k => k.Classes[r] != ClassTargets.Missing,
        _ => true,
    };

    private static bool HasNumber(ReadOnlySpan<float> values)
    {
        foreach (float v in values) if (!float.IsNaN(v)) return true;
        return false;
    }

    /// <summary>A multi-label task's k columns: each cell 0 or 1 (any spelling of the number), or absent (no label).</summary>
    private static MultiLabelTargets MultiLabel(RawTable raw, TaskSpec task, Func<string, int> column, bool allowMissingLabels)
    {
        int rows = raw.Records.Count, k = task.Columns.Count;
        var labels = new int[(long)rows * k];
        for (int j = 0; j < k; j++)
        {
            int c = column(task.Columns[j]);
            for (int r = 0; r < rows; r++)
            {
                if (allowMissingLabels && IsAbsent(raw.Records[r][c])) { labels[(long)r * k + j] = MultiLabelTargets.Missing; continue; }
                var text = Present(raw, r, c);
                labels[(long)r * k + j] = TryNumber(text, out float v) && (v == 0 || v == 1) ? (int)v
                    : throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c],
                        $"{Excerpt.Quote(text)} is not a label of multi-label task '{task.Name}': a --multilabel column holds 0 or 1 (or an empty/NA cell: no label).");
            }
        }
        return new MultiLabelTargets(task.Name, task.Columns, labels);
    }

    /// <summary>The values of a label or category column, each checked for being present (<paramref name="oneHot"/>: a
    /// one-hot input read under a missing-input policy, whose missing cell the error explains).</summary>
    private static IEnumerable<string> ValuesOf(RawTable raw, int c, string name, bool oneHot = false)
    {
        for (int r = 0; r < raw.Records.Count; r++) yield return oneHot ? PresentCategory(raw, r, c) : Present(raw, r, c);
    }

    /// <summary>A missing numeric input cell under <see cref="MissingInputs.Error"/>: the load error, and the policy that fills it.</summary>
    private static DataFileException MissingNumericInput(RawTable raw, int r, int c) =>
        new(raw.Path, raw.Lines[r], raw.Header[c],
            $"missing value ({(raw.Records[r][c].Length == 0 ? "empty field" : Excerpt.Quote(raw.Records[r][c]))}) in a numeric input; " +
            "--missing-inputs mean (or mean-indicator) fills it with the column's training mean.");

    /// <summary>The value of a one-hot input cell under a missing-input policy: a missing cell is refused, saying why.</summary>
    private static string PresentCategory(RawTable raw, int r, int c) => !IsAbsent(raw.Records[r][c]) ? raw.Records[r][c]
        : throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c],
            $"missing value ({(raw.Records[r][c].Length == 0 ? "empty field" : Excerpt.Quote(raw.Records[r][c]))}) in a one-hot categorical input: " +
            "--missing-inputs fills numeric columns (the training mean) and embedded columns (the reserved unseen row) only, and a one-hot " +
            $"column has no missing category. Fill the cell, or embed the column (--embed {raw.Header[c]}).");

    /// <summary>The present values of a label column (missing cells are "no label" and skipped).</summary>
    private static IEnumerable<string> LabelsOf(RawTable raw, int c)
    {
        for (int r = 0; r < raw.Records.Count; r++)
            if (!IsAbsent(raw.Records[r][c])) yield return raw.Records[r][c];
    }

    /// <summary>An empty field or a missing-value marker.</summary>
    private static bool IsAbsent(string text) => text.Length == 0 || IsMissing(text);

    private static string Present(RawTable raw, int r, int c)
    {
        var text = raw.Records[r][c];
        if (text.Length == 0) throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c], "missing value (empty field).");
        if (IsMissing(text)) throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c], $"missing value ({Excerpt.Quote(text)}).");
        return text;
    }

    private static int Index(RawTable raw, int r, int c, LabelMap map, string what, bool oneHotUnderPolicy = false)
    {
        var text = oneHotUnderPolicy ? PresentCategory(raw, r, c) : Present(raw, r, c);
        return map.TryGetIndex(text, out int index) ? index
            : throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c],
                $"{what} {Excerpt.Quote(text)} was never seen in the training data (known: {map.Describe()}).");
    }

    private static float Number(RawTable raw, int r, int c)
    {
        var text = Present(raw, r, c);
        if (TryNumber(text, out float value)) return value;
        var hint = text.Contains(',') && TryNumber(text.Replace(',', '.'), out _)
            ? " Numbers must use '.' as the decimal separator (culture-invariant)."
            : "";
        if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var big) && float.IsInfinity(big))
            throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c], $"{Excerpt.Quote(text)} is outside the float32 range.");
        throw new DataFileException(raw.Path, raw.Lines[r], raw.Header[c], $"{Excerpt.Quote(text)} is not a number (the column is numeric).{hint}");
    }

    private static bool TryNumber(string text, out float value) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);

    private static bool IsMissing(string text) =>
        MissingMarkers.Any(m => string.Equals(m, text, StringComparison.OrdinalIgnoreCase));
}
