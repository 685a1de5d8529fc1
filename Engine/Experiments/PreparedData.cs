using Engine.Data;

namespace Engine.Experiments;

/// <summary>
/// A dataset made ready for training: loaded with its schema, split by a seeded shuffle, and standardized
/// with μ and σ fitted on the training rows only (inputs and regression targets), so nothing of the
/// validation or test rows leaks into training. Keeps the unstandardized splits too: metrics are reported
/// in the data's own units, against the targets as they were read. With a missing-input policy (maths §19.12) the
/// imputation is fitted on the training rows too, and every dataset here is imputed (missing numeric cells hold the
/// training mean, the indicator columns follow the numeric inputs): the layout the model reads.
/// </summary>
public sealed class PreparedData
{
    /// <summary>The whole file as read (original units; imputed, when missing inputs are allowed).</summary>
    public Dataset All { get; }

    /// <summary>Which rows went where.</summary>
    public DataSplit Split { get; }

    /// <summary>μ and σ of the training rows.</summary>
    public Standardization Standardization { get; }

    /// <summary>The splits in original units (Validation/Test may have zero rows).</summary>
    public Dataset RawTrain { get; }
    public Dataset RawValidation { get; }
    public Dataset RawTest { get; }

    /// <summary>The splits standardized (what the model sees).</summary>
    public Dataset Train { get; }
    public Dataset Validation { get; }
    public Dataset Test { get; }

    private PreparedData(Dataset all, DataSplit split, Standardization standardization)
    {
        All = all;
        Split = split;
        Standardization = standardization;
        RawTrain = all.Select(split.Train);
        RawValidation = all.Select(split.Validation);
        RawTest = all.Select(split.Test);
        Train = standardization.Apply(RawTrain);
        Validation = standardization.Apply(RawValidation);
        Test = standardization.Apply(RawTest);
    }

    private PreparedData(Dataset all, DataSplit split, Standardization standardization, Dataset rawTrain, Dataset rawValidation,
        Dataset rawTest, Dataset train, Dataset validation, Dataset test)
    {
        (All, Split, Standardization) = (all, split, standardization);
        (RawTrain, RawValidation, RawTest) = (rawTrain, rawValidation, rawTest);
        (Train, Validation, Test) = (train, validation, test);
    }

    /// <summary>
    /// The same rows, split and standardization with only one task kept (for a single-task baseline): the inputs
    /// and the task's targets are exactly those the multi-task model saw.
    /// </summary>
    public PreparedData WithOnlyTask(string task)
    {
        var spec = All.Schema.Task(task);
        var schema = new TableSchema(All.Schema.NumericInputs, All.Schema.CategoricalInputs, [spec], All.Schema.EmbeddedInputs, All.Schema.WeightColumn);
        Dataset Keep(Dataset d) => new(d.Source, schema, d.Encoding, d.InputNames, d.Inputs, [d.Task(task)], d.SourceLines, d.SampleWeights);
        return new PreparedData(Keep(All), Split, Standardization, Keep(RawTrain), Keep(RawValidation), Keep(RawTest),
            Keep(Train), Keep(Validation), Keep(Test));
    }

    /// <summary>Loads the file named by the settings (or the bundled energy data), then splits and standardizes it;
    /// <paramref name="progress"/>, if given, hears how many bytes of the file have been parsed.</summary>
    public static PreparedData Load(ExperimentSettings settings, IProgress<ReadProgress>? progress = null)
    {
        var (path, schema) = ResolveSource(settings);
        var text = Text(settings);
        CheckColumnsExist(path, schema, settings.Delimiter, text);
        Dataset data;
        if (progress is null) data = CsvTable.Load(path, schema, settings.Delimiter, text: text, missingLabels: settings.MissingLabels, missingInputs: settings.MissingInputs);
        else
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            data = CsvTable.Load(file, schema, settings.Delimiter, text: text, missingLabels: settings.MissingLabels, source: path, progress: progress,
                missingInputs: settings.MissingInputs);
        }
        return From(RemoveLabels(data, settings), settings.ValidationFraction, settings.TestFraction, settings.Seed, settings.MissingInputs);
    }

    /// <summary>The training rows <see cref="From"/> will draw for these settings (the same split, computed ahead), or null
    /// when labels are removed from every row.</summary>
    private static int[]? RemovalRows(Dataset data, ExperimentSettings settings) =>
        settings.RemoveLabelsFrom == LabelRemovalScope.All ? null
        : DataSplit.Shuffled(data.RowCount, 1 - settings.ValidationFraction - settings.TestFraction, settings.ValidationFraction, settings.Seed).Train;

    /// <summary>The data with <see cref="ExperimentSettings.RemoveLabels"/> applied (before the split, from every split, or from
    /// the training split's rows only: <see cref="ExperimentSettings.RemoveLabelsFrom"/>); a
    /// task the data lacks or a fraction outside [0, 1) is a setup error naming <c>--remove-labels</c>.</summary>
    private static Dataset RemoveLabels(Dataset data, ExperimentSettings settings)
    {
        foreach (var (task, fraction) in settings.RemoveLabels)
        {
            if (data.Tasks.All(t => t.Name != task))
                throw new ExperimentSetupException($"--remove-labels: '{task}' is not a task of {data.Source} (tasks: {string.Join(", ", data.Tasks.Select(t => t.Name))}).");
            if (!(fraction >= 0 && fraction < 1))
                throw new ExperimentSetupException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--remove-labels {task}={fraction}: the fraction must lie in [0, 1)."));
        }
        return settings.RemoveLabels.Count == 0 ? data
            : LabelRemoval.Remove(data, settings.RemoveLabels, settings.RemoveLabelsSeed ?? settings.Seed, RemovalRows(data, settings));
    }

    private static System.Text.Encoding? Text(ExperimentSettings settings)
    {
        try { return TextEncodings.Resolve(settings.TextEncoding); }
        catch (ArgumentException e) { throw new ExperimentSetupException($"--encoding {e.Message}", e); }
    }

    /// <summary>Splits <paramref name="data"/> by <paramref name="seed"/> and fits the standardization — and, with a
    /// <paramref name="missingInputs"/> policy, the imputation before it — on the training rows.</summary>
    public static PreparedData From(Dataset data, double validationFraction, double testFraction, ulong seed, MissingInputs missingInputs = MissingInputs.Error)
    {
        double train = 1 - validationFraction - testFraction;
        if (!(validationFraction >= 0 && testFraction >= 0 && train > 0))
            throw new ExperimentSetupException(
                $"validation ({validationFraction}) and test ({testFraction}) fractions must be ≥ 0 and leave rows to train on.");
        var split = DataSplit.Shuffled(data.RowCount, train, validationFraction, seed);
        if (split.Train.Length == 0)
            throw new ExperimentSetupException($"{data.Source} has {data.RowCount} rows: none is left for training after the split.");
        data = EmbeddingVocabulary.FitOnRows(data, split.Train);   // embedded columns: the training split's categories only
        var standardization = Standardization.Fit(data, split.Train, missingInputs);
        return new PreparedData(standardization.Impute(data), split, standardization);
    }

    /// <summary>
    /// The file and the schema the settings describe. Without a data path: the bundled energy-efficiency file,
    /// with its own schema unless columns are named. With columns named: those tasks, and as inputs the
    /// named ones or every other column of the header.
    /// </summary>
    public static (string Path, TableSchema Schema) ResolveSource(ExperimentSettings settings)
    {
        var (path, schema) = ResolveColumns(settings);
        if (settings.WeightColumn is null) return (path, schema);
        try { return (path, schema.WithWeightColumn(settings.WeightColumn)); }
        catch (ArgumentException e) { throw new ExperimentSetupException($"--weight-column {settings.WeightColumn}: {e.Message}", e); }
    }

    /// <summary>The file and the input and task columns (<see cref="ResolveSource"/> before the weight column).</summary>
    private static (string Path, TableSchema Schema) ResolveColumns(ExperimentSettings settings)
    {
        string path = settings.DataPath ?? BundledPath(BundledDatasets.EnergyEfficiencyFile);
        if (settings.DataPath is null && !File.Exists(path))
            throw new FileNotFoundException(
                $"the bundled dataset {BundledDatasets.EnergyEfficiencyFile} is not in {System.IO.Path.GetDirectoryName(path)} " +
                "(nor in a data/ folder above the program). Reinstall the tool (dotnet tool update -g Engine.Cli), or pass " +
                "--data FILE.csv; the file is UCI dataset 242, https://archive.ics.uci.edu/dataset/242/energy+efficiency " +
                "(attribution: data/README.md).", path);
        bool namesTasks = settings.Regression.Count + settings.Classification.Count + settings.Binary.Count + settings.MultiLabel.Count > 0;
        if (settings.DataPath is null && !namesTasks && settings.Inputs is null && settings.Categorical.Count + settings.Embed.Count == 0)
            return (path, BundledDatasets.EnergyEfficiency);
        if (settings.DataPath is not null && !namesTasks)
        {
            var bundled = BundledSchema(path);
            if (bundled is null)
                throw new ExperimentSetupException($"{path}: name at least one task column (--regression or --classification).");
            if (settings.Inputs is null && settings.Categorical.Count + settings.Embed.Count == 0) return (path, bundled);
            settings = settings with
            {
                Regression = bundled.Tasks.Where(t => t.Kind == TaskKind.Regression).Select(t => t.Columns[0]).ToArray(),
                Classification = bundled.Tasks.Where(t => t.Kind == TaskKind.Classification).Select(t => t.Columns[0]).ToArray(),
                Binary = bundled.Tasks.Where(t => t.Kind == TaskKind.Binary).Select(t => t.Columns[0]).ToArray(),
            };
        }
        var targets = settings.Regression.Concat(settings.Classification).Concat(settings.Binary).Concat(settings.MultiLabel.SelectMany(m => m.Columns))
            .ToHashSet(StringComparer.Ordinal);
        var inputs = settings.Inputs ?? Header(path, settings.Delimiter, Text(settings))
            .Where(c => !targets.Contains(c) && c != settings.WeightColumn && !settings.Categorical.Contains(c) && !settings.Embed.Any(e => e.Column == c)).ToArray();
        try
        {
            var schema = new TableSchema(inputs, settings.Categorical,
                [.. settings.Regression.Select(TaskSpec.Regression), .. settings.Classification.Select(TaskSpec.Classification), .. settings.Binary.Select(TaskSpec.Binary),
                 .. settings.MultiLabel.Select(m => TaskSpec.MultiLabel(m.Name, [.. m.Columns]))],
                [.. settings.Embed.Select(e => e.Column)]);
            return (path, schema);
        }
        catch (ArgumentException e)
        {
            throw new ExperimentSetupException(e.Message, e);
        }
    }

    /// <summary>A column the schema names but the header lacks is reported first, before any value is parsed.</summary>
    private static void CheckColumnsExist(string path, TableSchema schema, char? delimiter, System.Text.Encoding? text)
    {
        var header = Header(path, delimiter, text);
        foreach (var column in schema.NumericInputs.Concat(schema.CategoricalInputs).Concat(schema.EmbeddedInputs).Concat(schema.Tasks.SelectMany(t => t.Columns))
            .Concat(schema.WeightColumn is null ? [] : [schema.WeightColumn]))
            if (!header.Contains(column))
                throw new DataFileException(path, 1, column, $"no such column in the header (columns: {string.Join(", ", header)}).");
    }

    /// <summary>The schema of a bundled file recognized by its name (wine: quality as a regression, color as a class).</summary>
    private static TableSchema? BundledSchema(string path) => Path.GetFileName(path) switch
    {
        BundledDatasets.EnergyEfficiencyFile => BundledDatasets.EnergyEfficiency,
        BundledDatasets.WineQualityFile => BundledDatasets.WineQualityRegression,
        _ => null,
    };

    /// <summary>The bundled file copied beside the executable (data/NAME), or found in a data/ folder above it.</summary>
    public static string BundledPath(string fileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "data", fileName);
            if (File.Exists(candidate)) return candidate;
        }
        return System.IO.Path.Combine(AppContext.BaseDirectory, "data", fileName);
    }

    /// <summary>
    /// The column names in a file's header row, in order (for "every other column is an input"). Only the first
    /// line is read; quotes are honoured. The full, validating read is <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/>'s.
    /// </summary>
    internal static IReadOnlyList<string> Header(string path, char? delimiter, System.Text.Encoding? text = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        string? line = File.ReadLines(path, text ?? System.Text.Encoding.UTF8).FirstOrDefault(l => l.Trim().Length > 0);
        if (line is null) throw new DataFileException(path, 1, null, "the file is empty; expected a header row with the column names.");
        char separator = delimiter ?? new[] { ',', ';', '\t', '|' }.MaxBy(c => line.Count(x => x == c));
        var names = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == separator) { names.Add(field.ToString().Trim()); field.Clear(); }
            else field.Append(c);
        }
        names.Add(field.ToString().Trim());
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
            if (!seen.Add(name))
                throw new DataFileException(path, 1, name, "the header names this column twice; each column needs its own name.");
        return names;
    }
}
