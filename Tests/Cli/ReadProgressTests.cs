using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Engine.Cli.Output;
using Engine.Data;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// Long CSV reads report progress on stderr by bytes parsed (<see cref="ReadProgressLines"/>): with stderr redirected,
/// one plain line per 10 % step, rising to 100 %, each naming the file and its size; nothing for a file under the
/// threshold. Format only, never timing.
/// </summary>
public partial class ReadProgressTests
{
    [GeneratedRegex(@"^Reading big\.csv: +(\d+) % of (\d+\.\d) MB$")]
    private static partial Regex Line();

    private static string BigCsv(TempDirectory dir, int rows)
    {
        var text = new StringBuilder("a,b,label\n");
        for (int r = 0; r < rows; r++) text.Append(CultureInfo.InvariantCulture, $"{r * 0.5},{r % 7},{(r % 3 == 0 ? "x" : "y")}\n");
        return dir.Write("big.csv", text.ToString());
    }

    [Fact]
    public void A_redirected_stderr_gets_one_line_per_ten_percent_up_to_100()
    {
        using var dir = new TempDirectory();
        var path = BigCsv(dir, 40_000);                    // ≈ 0.6 MB: CsvHelper reads it in many buffers
        long size = new FileInfo(path).Length;
        var stderr = new StringWriter();
        using var file = File.OpenRead(path);
        var data = CsvTable.Load(file, TableSchema.Empty.WithNumeric("a", "b").WithClassification("label"),
            source: path, progress: new ReadProgressLines(stderr, terminal: false, minBytes: 0));
        Assert.Equal(40_000, data.RowCount);               // the progress does not disturb the read

        var lines = stderr.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        var percents = new List<int>();
        foreach (var line in lines)
        {
            var m = Line().Match(line);
            Assert.True(m.Success, $"not a progress line: '{line}'");
            Assert.Equal((size / 1e6).ToString("F1", CultureInfo.InvariantCulture), m.Groups[2].Value);
            percents.Add(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        Assert.True(percents.Count >= 3, $"only {percents.Count} lines: {stderr}");
        Assert.All(percents, p => Assert.Equal(0, p % 10));
        Assert.Equal(percents.Order().Distinct(), percents);   // strictly rising, no repeats
        Assert.Equal(100, percents[^1]);
        Assert.DoesNotContain('\r', stderr.ToString());
    }

    [Fact]
    public void A_terminal_redraws_one_line_and_a_small_file_says_nothing()
    {
        using var dir = new TempDirectory();
        var path = BigCsv(dir, 20_000);
        var schema = TableSchema.Empty.WithNumeric("a", "b").WithClassification("label");

        var terminal = new StringWriter();
        using (var file = File.OpenRead(path))
            CsvTable.Load(file, schema, source: path, progress: new ReadProgressLines(terminal, terminal: true, minBytes: 0));
        var text = terminal.ToString();
        Assert.StartsWith("\rReading big.csv:", text, StringComparison.Ordinal);
        Assert.EndsWith("100 % of " + (new FileInfo(path).Length / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " MB" + Environment.NewLine, text, StringComparison.Ordinal);
        Assert.Equal(1, text.Split(Environment.NewLine).Length - 1);   // redrawn in place (\r): one line break, at the end
        Assert.True(text.Count(c => c == '\r') >= 2);

        var quiet = new StringWriter();
        using (var file = File.OpenRead(path))
            CsvTable.Load(file, schema, source: path, progress: new ReadProgressLines(quiet, terminal: false));
        Assert.Equal("", quiet.ToString());               // 0.3 MB < the 32 MB threshold
    }
}
