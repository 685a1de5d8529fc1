using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Cli;
using Engine.Cli.Commands;
using Engine.Experiments;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// <c>mtl train --weight-column COL</c> and <c>mtl evaluate --weight-column COL</c> (maths §19.11) end to end on a small
/// temporary CSV: the report records the column and marks every score weighted; evaluate scores weighted with the flag and
/// unweighted without it; a bad weight cell is a bad-input error naming the file's row and the column; a missing column,
/// a column with another role and an empty name are errors naming them; an l1 loss and an ESMM product task train weighted.
/// </summary>
public class SampleWeightCliTests
{
    /// <summary>The synthetic table with a weight column w = 0, 1, 2, 3 by row, and <paramref name="bad"/> written into row 5's cell when given.</summary>
    private static string Csv(string? bad = null)
    {
        var lines = Mtl.SyntheticCsv(60).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var text = new StringBuilder(lines[0] + ",w\n");
        for (int i = 1; i < lines.Length; i++)
            text.Append(lines[i]).Append(',').Append(i == 5 && bad is not null ? bad : ((i - 1) % 4).ToString(CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    private static string[] Train(string csv, params string[] extra) =>
        ["train", "--data", csv, "--regression", "y", "--classification", "label", "--categorical", "shade", "--epochs", "5", "--batch-size", "16",
         "--test", "0.25", "--weight-column", "w", .. extra];

    [Fact]
    public void Train_and_evaluate_take_a_weight_column()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("w.csv", Csv());
        string model = dir.File_("m.safetensors");
        var l1 = Mtl.Run([.. Train(csv, "--loss", "y:l1", "--report", "-")]);   // the weighted L1 kernel
        Assert.True(l1.ExitCode == 0, l1.ToString());
        Assert.All(ExperimentReport.FromJson(l1.Output).Metrics.Test, s => Assert.True(s.Weighted, s.Task));
        var trained = Mtl.Run([.. Train(csv, "--save", model, "--report", "-")]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var report = ExperimentReport.FromJson(trained.Output);
        Assert.Equal("w", report.Settings.WeightColumn);
        Assert.All(report.Metrics.Test, s => Assert.True(s.Weighted, s.Task));
        Assert.All(report.Metrics.Train, s => Assert.True(s.Weighted && double.IsFinite(s.Loss), s.Task));

        var weighted = Mtl.Run("evaluate", "--model", model, "--data", csv, "--weight-column", "w", "--report", "-");
        Assert.True(weighted.ExitCode == 0, weighted.ToString());
        var scores = JsonSerializer.Deserialize<EvaluationReport>(weighted.Output, ExperimentReport.Json)!.Metrics;
        Assert.All(scores, s => Assert.True(s.Weighted, s.Task));
        var plain = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", "-");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        var unweighted = JsonSerializer.Deserialize<EvaluationReport>(plain.Output, ExperimentReport.Json)!.Metrics;
        Assert.All(unweighted, s => Assert.False(s.Weighted, s.Task));
        Assert.NotEqual(scores.Single(s => s.Task == "y").Rmse, unweighted.Single(s => s.Task == "y").Rmse);
        var table = Mtl.Run("evaluate", "--model", model, "--data", csv, "--weight-column", "w");   // the table says what is weighted
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("weighted by the sample weights", table.Output);
        Assert.DoesNotContain("weighted by the sample weights", Mtl.Run("evaluate", "--model", model, "--data", csv).Output);
    }

    /// <summary>ESMM (--task-product ctcvr=click*conversion, --no-loss conversion) with a weight column: every score weighted,
    /// the product task's included.</summary>
    [Fact]
    public void An_esmm_product_task_trains_with_a_weight_column()
    {
        using var dir = new TempDirectory();
        var lines = EsmmCliTests.ClickCsv(120).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var text = new StringBuilder(lines[0] + ",w\n");
        for (int i = 1; i < lines.Length; i++) text.Append(lines[i]).Append(',').Append(1 + i % 3).Append('\n');
        var csv = dir.Write("clicks.csv", text.ToString());
        var run = Mtl.Run("train", "--data", csv, "--inputs", "x1,x2,x3", "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion",
            "--no-loss", "conversion", "--hidden", "8", "--tower", "6", "--epochs", "3", "--batch-size", "16", "--test", "0.25", "--weight-column", "w", "--report", "-");
        Assert.True(run.ExitCode == 0, run.ToString());
        var test = ExperimentReport.FromJson(run.Output).Metrics.Test;
        Assert.Contains(test, s => s.Task == "ctcvr");
        Assert.All(test, s => Assert.True(s.Weighted && double.IsFinite(s.Loss), s.Task));
    }

    [Theory]
    [InlineData("-1", "negative")]
    [InlineData("abc", "not a number")]
    [InlineData("NA", "missing value")]
    public void A_bad_weight_cell_names_the_row_and_column(string cell, string problem)
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("bad.csv", Csv(cell));
        var line = Mtl.AssertFails(Mtl.Run(Train(csv)), ExitCodes.BadInput, "bad.csv", "w", problem);
        Assert.Contains("6", line);   // the header is line 1: data row 5 is line 6
    }

    [Fact]
    public void A_missing_or_misused_weight_column_and_unbuilt_combinations_are_errors()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("w.csv", Csv());
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--epochs", "1", "--weight-column", "nope"), ExitCodes.BadInput, "nope", "no such column");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--inputs", "x1,x2", "--epochs", "1", "--weight-column", "y"), ExitCodes.BadInput,
            "--weight-column y", "sample-weight");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--epochs", "1", "--weight-column", " "), ExitCodes.Usage, "--weight-column");
    }
}
