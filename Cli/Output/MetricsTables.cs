using System.Globalization;
using Engine.Experiments;
using Spectre.Console;

namespace Engine.Cli.Output;

/// <summary>The tables printed at the end of <c>mtl train</c> and by <c>mtl evaluate</c>.</summary>
internal static class MetricsTables
{
    /// <summary>Per task and split: rows, loss, RMSE, MAE (original units), accuracy, AUC (binary), F1 (classification: of class 1 for a binary task, macro otherwise), R² (regression).
    /// A caption says which are weighted when the scores are (<see cref="TaskScore.Weighted"/>).</summary>
    public static Table Scores(IEnumerable<(string Split, IReadOnlyList<TaskScore> Scores)> splits)
    {
        var table = new Table { Border = TableBorder.Rounded }
            .AddColumn("task").AddColumn("split")
            .AddColumn(new TableColumn("rows").RightAligned()).AddColumn(new TableColumn("loss").RightAligned())
            .AddColumn(new TableColumn("RMSE").RightAligned()).AddColumn(new TableColumn("MAE").RightAligned())
            .AddColumn(new TableColumn("accuracy").RightAligned())
            .AddColumn(new TableColumn("AUC").RightAligned()).AddColumn(new TableColumn("F1").RightAligned())
            .AddColumn(new TableColumn("R²").RightAligned());
        var rows = splits.Where(s => s.Scores.Count > 0)
            .SelectMany(s => s.Scores.Select(score => (s.Split, score)))
            .GroupBy(x => x.score.Task);
        if (rows.Any(task => task.Any(x => x.score.Weighted)))   // --weight-column (maths §19.11)
            table.Caption = new TableTitle("weighted by the sample weights: loss, RMSE, MAE, accuracy, AUC (binary), F1, R²; rows are not weighted");
        foreach (var task in rows)
            foreach (var (split, s) in task)
                table.AddRow(Markup.Escape(s.Task), split, s.Rows.ToString(CultureInfo.InvariantCulture), Number(s.Loss),
                    Number(s.Rmse), Number(s.Mae), Percent(s.Accuracy), Number(s.Auc), Number(s.F1), Number(s.RSquared));
        return table;
    }

    /// <summary>The final metrics of a training run.</summary>
    public static Table Scores(SplitScores metrics) =>
        Scores([("train", metrics.Train), ("validation", metrics.Validation), ("test", metrics.Test)]);

    /// <summary>Multi-task against single-task on the test split, each task's term of Δm, and Δm.</summary>
    public static Table Gains(BaselineReport baselines)
    {
        var table = new Table { Border = TableBorder.Rounded, Caption = new TableTitle(
                $"Δm = {Signed(baselines.DeltaM)} % (mean of the gains; positive: multi-task training helped)") }
            .AddColumn("task").AddColumn("test metric")
            .AddColumn(new TableColumn("multi-task").RightAligned()).AddColumn(new TableColumn("single-task").RightAligned())
            .AddColumn(new TableColumn("gain").RightAligned());
        foreach (var g in baselines.Gains)
            table.AddRow(Markup.Escape(g.Task), g.LowerIsBetter ? $"{g.Metric} (lower is better)" : $"{g.Metric} (higher is better)",
                Metric(g.Metric, g.MultiTask), Metric(g.Metric, g.SingleTask), $"{Signed(g.GainPercent)} %");
        return table;
    }

    private static string Metric(string name, double value) => name == "accuracy" ? Percent(value) : Number(value);

    internal static string Number(double? value) => value switch
    {
        null => "–",
        double v when !double.IsFinite(v) => v.ToString(CultureInfo.InvariantCulture),
        double v when Math.Abs(v) >= 1e5 => v.ToString("E3", CultureInfo.InvariantCulture),
        double v => v.ToString(Math.Abs(v) >= 1000 ? "F1" : "F4", CultureInfo.InvariantCulture),
    };

    internal static string Percent(double? value) => value is { } v ? (v * 100).ToString("F2", CultureInfo.InvariantCulture) + " %" : "–";

    private static string Signed(double value) => (value >= 0 ? "+" : "") + value.ToString("F2", CultureInfo.InvariantCulture);
}
