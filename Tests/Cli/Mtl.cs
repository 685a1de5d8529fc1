using System.Globalization;
using System.Text;
using Engine.Cli;

namespace Engine.Tests.Cli;

/// <summary>Runs the <c>mtl</c> command in-process and captures what it writes.</summary>
internal static class Mtl
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        /// <summary>The error stream's lines (a failure must write exactly one).</summary>
        public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
    }

    public static Result Run(params string[] args) => Run(TestContext.Current.CancellationToken, args);

    public static Result Run(CancellationToken cancellation, params string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = App.Run(args, output, error, interactive: false, cancellation);
        return new Result(code, output.ToString(), error.ToString());
    }

    /// <summary>Asserts a failure: the exit code, and stderr ending in exactly one line starting "mtl: error:" (status and
    /// progress lines may come before it), containing every fragment.</summary>
    public static string AssertFails(Result result, int exitCode, params string[] fragments)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit {exitCode}: {result}");
        Assert.True(result.ErrorLines.Count(l => l.Contains("error", StringComparison.Ordinal)) == 1, $"expected one error line: {result}");
        var line = result.ErrorLines[^1];
        Assert.StartsWith("mtl: error: ", line);
        Assert.DoesNotContain("   at ", line); // no stack trace
        foreach (var f in fragments) Assert.Contains(f, line);
        return line;
    }

    /// <summary>
    /// A small synthetic table: numeric x1, x2, categorical shade (light/dark), regression target
    /// y = 2·x1 − x2 + [shade = dark], class label = "pos" when x1 + x2 > 0 else "neg". Deterministic.
    /// </summary>
    public static string SyntheticCsv(int rows = 80, int seed = 1)
    {
        var random = new Random(seed);
        var text = new StringBuilder("x1,x2,shade,y,label\n");
        for (int i = 0; i < rows; i++)
        {
            double x1 = Math.Round(random.NextDouble() * 4 - 2, 3), x2 = Math.Round(random.NextDouble() * 4 - 2, 3);
            bool dark = i % 3 == 0;
            double y = 2 * x1 - x2 + (dark ? 1 : 0);
            text.Append(CultureInfo.InvariantCulture, $"{x1},{x2},{(dark ? "dark" : "light")},{y:R},{(x1 + x2 > 0 ? "pos" : "neg")}\n");
        }
        return text.ToString();
    }

    /// <summary>The flags that train the synthetic table (a few hundred milliseconds).</summary>
    public static string[] SyntheticTrainFlags(string csv) =>
        ["train", "--data", csv, "--regression", "y", "--classification", "label", "--categorical", "shade",
         "--epochs", "40", "--batch-size", "16", "--test", "0.25"];
}
