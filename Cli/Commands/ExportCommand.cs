using System.CommandLine;
using Engine.Export;

namespace Engine.Cli.Commands;

/// <summary>
/// <c>mtl export</c>: writes a saved model as one ONNX graph with every task's output (docs/onnx.md). With
/// <c>--with-standardization</c> the graph also holds the model's input and target scaling: raw (encoded) features in,
/// original units out.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(CliContext context)
    {
        var model = SharedFlags.Model();
        var onnx = new Option<string>("--onnx") { Description = "Where to write the ONNX file.", HelpName = "FILE.onnx", Required = true };
        var scaling = new Option<bool>("--with-standardization")
            { Description = "Put the input and target scaling into the graph: raw features in, original units out (default: standardized, as the model sees them)." };
        var command = new Command("export", "Export a saved model to ONNX (opset 17): one graph, every task's output.") { model, onnx, scaling };
        command.SetAction(p => Run(context, p.GetValue(model)!, p.GetValue(onnx)!, p.GetValue(scaling)));
        return command;
    }

    private static int Run(CliContext context, string modelPath, string onnxPath, bool withStandardization)
    {
        new CommandFiles().Reads("--model", modelPath).Writes("--onnx", onnxPath).Check();
        using var backend = Devices.Open("cpu");
        using var saved = SavedModel.Load(modelPath, backend);
        try { saved.Model.ExportOnnx(onnxPath, new OnnxExportOptions { Standardization = withStandardization ? saved.Standardization : null }); }
        catch (NotSupportedException e) { throw new BadInputException($"{modelPath}: {e.Message}", e); } // e.g. imputed inputs with the scaling
        var spec = saved.Model.Spec;
        var outputs = Enumerable.Range(0, spec.Heads.Count).SelectMany(t => OnnxExport.OutputNames(spec, t));
        context.Status($"Wrote {onnxPath}: input '{OnnxExport.InputName}' [batch × {saved.Model.Spec.Inputs}]" +
            $"{(withStandardization ? " in original units" : " standardized")}; outputs {string.Join(", ", outputs.Select(o => $"'{o}'"))}; opset {OnnxExport.Opset}.");
        return ExitCodes.Ok;
    }
}
