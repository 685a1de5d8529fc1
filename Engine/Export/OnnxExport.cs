using Engine.Data;
using Engine.Checkpoints;
using Engine.Export.Architectures;
using Google.Protobuf;
using Onnx;

namespace Engine.Export;

/// <summary>How <see cref="OnnxExport.ExportOnnx(MultiTaskModel, string, OnnxExportOptions?)"/> writes the graph.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// When set, the graph includes the scaling: its input is the encoded row in original units (numeric columns as in the
    /// CSV, then the one-hot slots of categorical columns, as <see cref="Dataset.Inputs"/> holds them) and regression outputs
    /// are in original units. When null, the graph takes standardized inputs and gives standardized regression outputs,
    /// exactly what <see cref="MultiTaskModel.Predict"/> does.
    /// </summary>
    public Standardization? Standardization { get; init; }

    /// <summary>The graph's name inside the file.</summary>
    public string GraphName { get; init; } = "engine_multitask";
}

/// <summary>
/// ONNX export of a <see cref="MultiTaskModel"/>: one graph with every task's output. Opset <see cref="Opset"/>
/// (default domain), IR version <see cref="IrVersion"/>, float32 throughout.
/// <list type="bullet">
/// <item>Input <see cref="InputName"/>: [batch × Spec.Inputs].</item>
/// <item>Per regression task <c>{task}</c>: [batch × k] values.</item>
/// <item>Per classification task <c>{task}.logits</c> and <c>{task}.probabilities</c> (softmax over the classes): [batch × C].</item>
/// </list>
/// The nodes: the input scaling (optional), the shared part's nodes (one exporter per architecture,
/// <c>Engine/Export/Architectures/</c>), then per task its tower, its output layer and the output scaling (optional).
/// docs/onnx.md lists it all; Tests/Export/OnnxExportTests.cs runs the files in ONNX Runtime against Predict.
/// </summary>
public static class OnnxExport
{
    /// <summary>The ONNX operator set the graph uses (Gemm, MatMul, Concat, Relu, Tanh, Sigmoid, Softmax, Transpose, Unsqueeze, ReduceSum, Sub, Div, Mul, Add, Identity).</summary>
    public const int Opset = 17;

    /// <summary>The ONNX IR version written (8 goes with opset 17).</summary>
    public const long IrVersion = 8;

    /// <summary>The graph's one input.</summary>
    public const string InputName = "features";

    /// <summary>The output holding task <paramref name="head"/>'s values (regression) or logits (classification).</summary>
    public static string OutputName(TaskHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return head.Kind != TaskKind.Regression ? head.Name + ".logits" : head.Name;
    }

    /// <summary>The output holding a classification task's probabilities.</summary>
    public static string ProbabilitiesName(TaskHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return head.Name + ".probabilities";
    }

    /// <summary>Writes the model as an ONNX file (atomically: a reader never sees half a file).</summary>
    public static void ExportOnnx(this MultiTaskModel model, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = model.ToOnnx(options);
        AtomicFile.Write(path, stream => proto.WriteTo(stream));
    }

    /// <summary>Writes the model as ONNX to <paramref name="stream"/>.</summary>
    public static void ExportOnnx(this MultiTaskModel model, Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        model.ToOnnx(options).WriteTo(stream);
    }

    /// <summary>The model as an ONNX <see cref="ModelProto"/>.</summary>
    public static ModelProto ToOnnx(this MultiTaskModel model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        var spec = model.Spec;
        if (spec.Graph is not null)
            throw new NotSupportedException("ONNX export of ordered tasks (ModelSpec.Graph: a product task has no output layer) is not built yet.");
        var scale = options.Standardization;
        if (scale?.Imputation is { } imputation)   // maths §19.12: the graph has no NaN test yet
            throw new NotSupportedException($"the model imputes missing inputs (--missing-inputs {Standardization.PolicyName(imputation.Policy)}), which the ONNX graph " +
                "does not do yet: export without the standardization (standardized inputs, imputed and indicator columns included, as the model sees them).");
        if (scale is not null && scale.Inputs.Width != spec.Inputs)
            throw new ArgumentException($"options.Standardization scales {scale.Inputs.Width} inputs but the model takes {spec.Inputs}.", nameof(options));

        var graph = new OnnxGraph(model, options.GraphName);
        graph.Proto.Input.Add(OnnxGraph.Matrix(InputName, spec.Inputs));
        graph.Unique(InputName);
        var x = scale is null ? InputName : graph.Standardize(InputName, scale.Inputs, "inputs");

        if (model.Embedding is { } embedding) x = EmbeddingOnnx.Export(graph, embedding, x);
        var features = SharedPart(graph, model.Shared, x, model.TaskCount);
        for (int t = 0; t < model.TaskCount; t++)
        {
            var head = spec.Heads[t];
            var h = features[t];
            if (model.Towers[t] is { } tower) h = graph.Mlp(tower, h);
            var z = graph.Dense(model.Heads[t], h);
            if (head.Kind is TaskKind.Binary or TaskKind.MultiLabel)
            {
                graph.Output(z, OutputName(head), head.Outputs);   // σ(z) = P(class 1) per logit: ONNX Sigmoid
                graph.Output(graph.Node("Sigmoid", [z], head.Name + ".sigmoid"), ProbabilitiesName(head), head.Outputs);
            }
            else if (head.Kind == TaskKind.Classification)
            {
                graph.Output(z, OutputName(head), head.Outputs);
                graph.Output(graph.Node("Softmax", [z], head.Name + ".softmax", OnnxGraph.Int("axis", 1)), ProbabilitiesName(head), head.Outputs);
            }
            else
            {
                if (scale is not null) z = graph.Unstandardize(z, scale.Target(head.Name), "targets." + head.Name);
                graph.Output(z, OutputName(head), head.Outputs);
            }
        }

        var onnx = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Engine",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = graph.Proto,
            DocString = $"Multi-task model ({Architecture.Of(spec).Name}); inputs {(scale is null ? "standardized" : "in original units")}.",
        };
        onnx.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        onnx.MetadataProps.Add(new StringStringEntryProto { Key = "engine.config", Value = spec.ToJson() });
        onnx.MetadataProps.Add(new StringStringEntryProto { Key = "engine.standardized_io", Value = scale is null ? "true" : "false" });
        return onnx;
    }

    /// <summary>
    /// The shared part's nodes, one exporter per architecture (a file each in <c>Engine/Export/Architectures/</c>): returns
    /// the name of the features each task reads.
    /// </summary>
    private static string[] SharedPart(OnnxGraph graph, SharedPart<float> part, string input, int tasks) => part switch
    {
        SharedBottom<float> bottom => SharedBottomOnnx.Export(graph, bottom, input, tasks),
        MixtureOfExperts<float> mixture => MixtureOfExpertsOnnx.Export(graph, mixture, input, tasks),
        ProgressiveLayeredExtraction<float> ple => PleOnnx.Export(graph, ple, input, tasks),
        CrossStitch<float> stitch => CrossStitchOnnx.Export(graph, stitch, input, tasks),
        _ => throw new NotSupportedException(
            $"ONNX export: no exporter for the shared part {part.GetType().Name} yet; add one to Engine/Export/Architectures/ and a case in OnnxExport.SharedPart."),
    };
}
