using System.CommandLine;
using System.Text.Json;
using Engine.Checkpoints;
using Engine.Cli.Output;
using Engine.Data;
using Engine.Experiments;
using Spectre.Console;

namespace Engine.Cli.Commands;

/// <summary>
/// <c>mtl evaluate</c>: scores a saved model on every row of a CSV file that has the target columns, per task,
/// in original units (loss, RMSE, MAE, accuracy). Labels and categories are read with the model's own maps, so
/// a label the training data never had is an error naming the file, row and column. With <c>--weight-column COL</c> the
/// scores are weighted by that column's sample weights (maths §19.11); without it they are unweighted, whatever the
/// model was trained with.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create(CliContext context)
    {
        var model = SharedFlags.Model();
        var data = new Option<string>("--data") { Description = "The CSV file, with the input and target columns the model was trained on.", HelpName = "FILE.csv", Required = true };
        var delimiter = SharedFlags.Delimiter();
        var encoding = SharedFlags.Encoding();
        var device = SharedFlags.Device();
        var weightColumn = new Option<string?>("--weight-column") { Description = "Weigh the scores by this column's per-row sample weights (finite, ≥ 0): loss, RMSE, MAE, R², accuracy, log-loss, precision, recall, F1 and binary AUC (default: unweighted).", HelpName = "COL" };
        var report = new Option<string?>("--report") { Description = "Also write the per-task metrics as JSON (- : to stdout, instead of the table).", HelpName = "FILE.json" };
        var command = new Command("evaluate", "Score a saved model on a CSV file with targets (per task, original units).") { model, data, delimiter, encoding, device, weightColumn, report };
        command.SetAction(p => Run(context, p.GetValue(model)!, p.GetValue(data)!, SharedFlags.ParseDelimiter(p.GetValue(delimiter)),
            SharedFlags.ParseEncoding(p.GetValue(encoding)), p.GetValue(device)!, p.GetValue(report), p.GetValue(weightColumn)));
        return command;
    }

    private static int Run(CliContext context, string modelPath, string dataPath, char? delimiter, System.Text.Encoding? text, string device, string? reportPath,
        string? weightColumn)
    {
        if (weightColumn is not null && weightColumn.Trim().Length == 0) throw new UsageException("--weight-column: name the column of sample weights.");
        new CommandFiles().Reads("--model", modelPath).Reads("--data", dataPath).Writes("--report", reportPath == "-" ? null : reportPath).Check(); // "-": stdout
        using var backend = Devices.Open(device);
        using var saved = SavedModel.Load(modelPath, backend);
        var s = saved.Schema;
        TableSchema schema;
        try { schema = new TableSchema(s.NumericInputs, s.CategoricalInputs, s.Tasks, s.EmbeddedInputs, weightColumn?.Trim()); }
        catch (ArgumentException e) { throw new UsageException($"--weight-column {weightColumn}: {e.Message}"); }
        var raw = Output.ReadProgressLines.LoadCsv(context, dataPath, schema, delimiter, saved.Encoding, text,
            saved.Standardization.Imputation?.Policy ?? MissingInputs.Error);
        foreach (var line in EmbeddingVocabulary.DescribeUnseen(raw)) context.Error.WriteLine(line);   // counted, not an error
        var scores = ModelEvaluation.Score(saved.Model, raw, saved.Standardization, saved.Encoding);
        context.Status($"{Path.GetFileName(dataPath)}: {raw.RowCount} rows, model {Path.GetFileName(modelPath)}.");
        var json = reportPath is null ? null : JsonSerializer.Serialize(new EvaluationReport(modelPath, dataPath, raw.RowCount, scores) { UnseenCategories = Unseen(raw) }, ExperimentReport.Json);
        if (reportPath == "-") context.Output.WriteLine(json); // the report instead of the table
        else context.Console.Write(MetricsTables.Scores([(Path.GetFileNameWithoutExtension(dataPath), scores)]));
        if (reportPath is not null && reportPath != "-")
        {
            AtomicFile.WriteAllBytes(reportPath, System.Text.Encoding.UTF8.GetBytes(json!));
            context.Status($"Wrote the report to {reportPath}.");
        }
        return ExitCodes.Ok;
    }

    private static Dictionary<string, int>? Unseen(Dataset raw) => raw.Schema.EmbeddedInputs.Count == 0 ? null
        : EmbeddingVocabulary.UnseenCounts(raw).ToDictionary(c => c.Column, c => c.Rows);
}

/// <summary>What <c>mtl evaluate --report</c> writes.</summary>
public sealed record EvaluationReport(string Model, string Data, int Rows, IReadOnlyList<TaskScore> Metrics)
{
    /// <summary>Embedded column → rows whose category the training split never had (null when the model embeds no column).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, int>? UnseenCategories { get; init; }
}
