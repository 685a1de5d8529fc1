using System.CommandLine;
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
        var raw = Output.ReadProgressLines.LoadCsv(context, dataPath, saved.Schema.InputsOnly(), delimiter, saved.Encoding, text,
            saved.Standardization.Imputation?.Policy ?? MissingInputs.Error);
        foreach (var line in EmbeddingVocabulary.DescribeUnseen(raw)) context.Error.WriteLine(line);   // counted, not an error
        var outputs = ModelEvaluation.PredictOriginalUnits(saved.Model, raw, saved.Standardization, saved.Encoding);
        if (outputPath is null) context.Output.Write(PredictionCsv.ToText(raw, outputs, probabilities, delimiter ?? ','));
        else
        {
            PredictionCsv.Write(outputPath, raw, outputs, probabilities, delimiter ?? ',');
            context.Error.WriteLine($"Wrote {raw.RowCount} predictions to {outputPath}.");
        }
        return ExitCodes.Ok;
    }
}
