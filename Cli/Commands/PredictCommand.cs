using System.CommandLine;
using System.Globalization;
using System.Text;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Experiments;

namespace Engine.Cli.Commands;

/// <summary>
/// <c>mtl predict</c>: runs a saved model on the rows of a CSV file and writes a CSV with, per row, the model's input
/// columns followed by each task's prediction: regression values in original units under the target column
/// names, class labels as the strings the training data used, and with <c>--probabilities</c> one
/// <c>P(task=label)</c> column per class. Target columns in the input are ignored.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(CliContext context)
    {
        var model = SharedFlags.Model();
        var data = new Option<string>("--data") { Description = "The CSV file with the model's input columns.", HelpName = "FILE.csv", Required = true };
        var output = new Option<string?>("--output") { Description = "Where to write the predictions (default: standard output).", HelpName = "FILE.csv" };
        var probabilities = new Option<bool>("--probabilities") { Description = "Also write each class's probability." };
        var delimiter = SharedFlags.Delimiter();
        var encoding = SharedFlags.Encoding();
        var device = SharedFlags.Device();
        var command = new Command("predict", "Predict every task for the rows of a CSV file with a saved model; writes CSV.")
            { model, data, output, probabilities, delimiter, encoding, device };
        command.SetAction(p => Run(context, p.GetValue(model)!, p.GetValue(data)!, p.GetValue(output), p.GetValue(probabilities),
            SharedFlags.ParseDelimiter(p.GetValue(delimiter)), SharedFlags.ParseEncoding(p.GetValue(encoding)), p.GetValue(device)!));
        return command;
    }

    private static int Run(CliContext context, string modelPath, string dataPath, string? outputPath, bool probabilities, char? delimiter, System.Text.Encoding? text, string device)
    {
        new CommandFiles().Reads("--model", modelPath).Reads("--data", dataPath).Writes("--output", outputPath).Check();
        using var backend = Devices.Open(device);
        using var saved = SavedModel.Load(modelPath, backend);
        var raw = CsvTable.Load(dataPath, saved.Schema.InputsOnly(), delimiter, saved.Encoding, text);
        var outputs = ModelEvaluation.Predict(saved.Model, raw, saved.Standardization, saved.Encoding);
        var csv = Write(raw, outputs, probabilities, delimiter ?? ',');
        if (outputPath is null) context.Output.Write(csv);
        else
        {
            AtomicFile.WriteAllBytes(outputPath, Encoding.UTF8.GetBytes(csv));
            context.Error.WriteLine($"Wrote {raw.RowCount} predictions to {outputPath}.");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The prediction CSV: header, then one line per input row.</summary>
    internal static string Write(Dataset raw, IReadOnlyList<TaskOutput> outputs, bool probabilities, char delimiter)
    {
        var header = new List<string>(raw.Schema.NumericInputs);
        header.AddRange(raw.Schema.CategoricalInputs);
        foreach (var o in outputs)
        {
            header.AddRange(o.Columns);
            if (probabilities && o.ClassNames is not null) header.AddRange(o.ClassNames.Select(c => $"P({o.Task}={c})"));
        }
        var text = new StringBuilder();
        Line(text, header, delimiter);
        int numeric = raw.Schema.NumericInputs.Count;
        var fields = new List<string>(header.Count);
        for (int r = 0; r < raw.RowCount; r++)
        {
            fields.Clear();
            var row = raw.InputRow(r);
            for (int j = 0; j < numeric; j++) fields.Add(Number(row[j]));
            int slot = numeric;
            foreach (var column in raw.Schema.CategoricalInputs)
            {
                var vocabulary = raw.Encoding.Categories[column];
                int hot = 0;
                for (int v = 0; v < vocabulary.Count; v++) if (row[slot + v] == 1f) hot = v;
                fields.Add(vocabulary.LabelOf(hot));
                slot += vocabulary.Count;
            }
            foreach (var o in outputs)
            {
                if (o.Values is { } values)
                    for (int k = 0; k < o.Columns.Count; k++) fields.Add(Number(values[r * o.Columns.Count + k]));
                else
                {
                    fields.Add(o.Labels![r]);
                    if (probabilities)
                        for (int c = 0; c < o.ClassNames!.Count; c++) fields.Add(Number(o.Probabilities![r * o.ClassNames.Count + c]));
                }
            }
            Line(text, fields, delimiter);
        }
        return text.ToString();
    }

    private static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One CSV record; fields holding the delimiter, a quote or a line break are quoted (RFC 4180).</summary>
    private static void Line(StringBuilder text, IReadOnlyList<string> fields, char delimiter)
    {
        for (int i = 0; i < fields.Count; i++)
        {
            if (i > 0) text.Append(delimiter);
            var f = fields[i];
            if (f.IndexOfAny([delimiter, '"', '\n', '\r']) >= 0) text.Append('"').Append(f.Replace("\"", "\"\"")).Append('"');
            else text.Append(f);
        }
        text.Append('\n');
    }
}
