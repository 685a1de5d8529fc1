using System.Globalization;
using Engine.Bench.Methods;

namespace Engine.Tests.Bench;

/// <summary>The architecture axis of the results-table command (Bench/Methods/MethodTableCommand.cs, issue 12) and its
/// MMoE synthetic dataset (issue 13), at a tiny size: one seed, two epochs.</summary>
public sealed class MethodTableCommandTests
{
    private static readonly string[] s_architectures = ["shared-bottom", "mmoe", "omoe", "cgc", "ple", "cross-stitch", "dselect-k"];

    [Fact]
    public void The_architecture_axis_gives_a_row_per_architecture_with_finite_numbers_and_comparable_sizes()
    {
        string output = Path.Combine(Path.GetTempPath(), $"method-table-{Guid.NewGuid():N}.md");
        try
        {
            int code = MethodTableCommand.Run(["--seeds", "1", "--datasets", "energy", "--methods", "sum", "--epochs", "2",
                "--threads", "1", "--archs", string.Join(',', s_architectures), "--out", output]);
            Assert.Equal(0, code);
            var rows = File.ReadAllLines(output).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Select(Cells).ToArray();
            Assert.Equal(["architecture", "parameters", "method", "kind", "heating_load rmse", "cooling_load rmse", "Δm %", "ms / epoch", "failed runs"], rows[0]);
            Assert.StartsWith("single-task", rows[1][0], StringComparison.Ordinal);
            var body = rows[2..];
            Assert.Equal(s_architectures, body.Select(r => r[0]));
            int sharedBottom = Parameters(body[0]);
            Assert.Equal(8 * 64 + 64 + 64 * 64 + 64 + 2 * (64 + 1), sharedBottom);   // the default 64-64 trunk and two output layers
            foreach (var row in body)
            {
                Assert.Equal(["sum", "gradient"], row[2..4]);
                Assert.Equal("", row[8]);                                            // no failed run
                foreach (var cell in row[4..8])
                    Assert.True(double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x),
                        $"{row[0]}: '{cell}' is not a finite number");
                // The documented sizes (MethodTableCommand.Sized): within 10 % of the shared bottom's parameters.
                Assert.InRange(Parameters(row), sharedBottom * 0.9, sharedBottom * 1.1);
            }
            Assert.Equal(s_architectures.Length, body.Select(Parameters).Distinct().Count());   // each row trained its own architecture
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void The_mmoe_synthetic_dataset_gives_a_row_per_method_with_finite_numbers_against_its_own_single_task_models()
    {
        string output = Path.Combine(Path.GetTempPath(), $"method-table-{Guid.NewGuid():N}.md");
        try
        {
            int code = MethodTableCommand.Run(["--seeds", "1", "--datasets", "mmoe-synthetic", "--p", "0.5", "--methods", "sum,uncertainty",
                "--epochs", "2", "--threads", "1", "--out", output]);
            Assert.Equal(0, code);
            var lines = File.ReadAllLines(output);
            Assert.Contains(lines, l => l.StartsWith("### mmoe-synthetic, p = 0.5, MMoE 8 × 16, towers 8 (at most 2 epochs, patience 10, batch 32", StringComparison.Ordinal));
            var rows = lines.Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Select(Cells).ToArray();
            Assert.Equal(["method", "kind", "y1 rmse", "y2 rmse", "Δm %", "ms / epoch", "failed runs"], rows[0]);
            Assert.StartsWith("single-task", rows[1][0], StringComparison.Ordinal);
            Assert.Equal(["uncertainty", "sum"], rows[2..].Select(r => r[0]));
            foreach (var row in rows[1..])
                foreach (var cell in row[2..5])
                    Assert.True(double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x),
                        $"{row[0]}: '{cell}' is not a finite number");
            Assert.Equal("—", rows[1][5]);                                      // the single-task row has no time of its own
            Assert.All(rows[2..], r => Assert.True(double.TryParse(r[5], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms > 0,
                $"{r[0]}: time per epoch '{r[5]}'"));                             // one seed: a single positive number
            Assert.All(rows[2..], r => Assert.Equal("", r[6]));                  // no failed run
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void A_bad_argument_ends_the_bench_with_one_line_and_exit_2_not_a_stack_trace()
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(2, CommandArgs.Guarded(() => MethodTableCommand.Run(["--datasets", "nope", "--seeds", "1"])));
        }
        finally
        {
            Console.SetError(saved);
        }
        Assert.Equal("bench: error: --datasets: unknown dataset 'nope' (energy, wine, mmoe-synthetic).", error.ToString().Trim());
    }

    private static string[] Cells(string line) => [.. line.Trim().Trim('|').Split('|').Select(c => c.Trim())];

    private static int Parameters(string[] row) => int.Parse(row[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
}
