using System.Globalization;
using Engine.Data;

namespace Engine.Cli.Output;

/// <summary>
/// Progress of a long CSV read on stderr, by bytes parsed, only for files of at least <c>minBytes</c> (a small file loads
/// in well under a second and says nothing). On a terminal one line redrawn in place (<c>\r</c>) per percent; when stderr is
/// redirected one plain line per 10 %: <c>Reading big.csv:  40 % of 200.0 MB</c>. Never on stdout.
/// </summary>
internal sealed class ReadProgressLines(TextWriter error, bool terminal, long minBytes = ReadProgressLines.DefaultMinBytes) : IProgress<ReadProgress>
{
    /// <summary>32 MB: about 2 s of loading on the CI machine (the bundled files are under 0.5 MB).</summary>
    public const long DefaultMinBytes = 32_000_000;

    private int _shown = -1;

    public void Report(ReadProgress p)
    {
        if (p.TotalBytes < minBytes) return;
        int steps = terminal ? 100 : 10;
        int step = (int)Math.Floor(p.Fraction * steps);
        if (step <= _shown) return;
        _shown = step;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"Reading {TrainingProgress.Fit(Path.GetFileName(p.Source), 40)}: {100 * step / steps,3} % of {p.TotalBytes / 1e6:F1} MB");
        if (!terminal) error.WriteLine(line);
        else
        {
            error.Write('\r' + line);
            if (step == steps) error.WriteLine();
        }
        error.Flush();
    }

    /// <summary>Reads <paramref name="path"/> as <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/>
    /// does, with this progress on the context's stderr; <paramref name="missingInputs"/>: the saved model's policy
    /// (<see cref="Standardization.Imputation"/>), so a missing input cell is read as missing exactly when the model imputes it.</summary>
    public static Dataset LoadCsv(CliContext context, string path, TableSchema schema, char? delimiter, DataEncoding? encoding, System.Text.Encoding? text,
        MissingInputs missingInputs = MissingInputs.Error)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return CsvTable.Load(file, schema, delimiter, encoding, text, source: path, progress: new ReadProgressLines(context.Error, context.ErrorInteractive),
            missingInputs: missingInputs);
    }
}
