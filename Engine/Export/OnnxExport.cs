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
/// <item>Per product task (ordered tasks, <see cref="ModelSpec.Graph"/>) <c>{task}.probabilities</c>: the product of its factors' probabilities.</item>
/// </list>
/// The nodes: the input scaling (optional), the shared part's nodes (one exporter per architecture,
/// <c>Engine/Export/Architectures/</c>), then per task its tower, its output layer and the output scaling (optional).
/// docs/onnx.md lists it all; Tests/Export/OnnxExportTests.cs runs the files in ONNX Runtime against Predict.
/// </summary>
public static class OnnxExport
{
    /// <summary>The ONNX operator set the graph uses (Gemm, MatMul, Concat, Relu, Tanh, Sigmoid, Softmax, Transpose, Unsqueeze, Reshape, ReduceSum, ReduceProd, Clip, Sub, Div, Mul, Add, Identity, and the embedding's Slice, Cast, Gather, Flatten; LayerNormalization).</summary>
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

    /// <summary>The graph outputs of task <paramref name="task"/> of <paramref name="spec"/>, in the file's order: a regression's
    /// values; a classification's logits and probabilities; a product task's (§17.6) probabilities only, for it has no logit.</summary>
    public static IEnumerable<string> OutputNames(ModelSpec spec, int task)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var head = spec.Heads[task];
        if (spec.IsProduct(task)) return [ProbabilitiesName(head)];
        return head.Kind != TaskKind.Regression ? [OutputName(head), ProbabilitiesName(head)] : [OutputName(head)];
    }

    /// <summary>The output holding a classification task's probabilities (a product task's p).</summary>
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
        // The shared part serves the tasks with an output layer, in head order (a product task reads none of it: §17.6).
        int[] featureTasks = [.. Enumerable.Range(0, model.TaskCount).Where(t => !spec.IsProduct(t))];
        var shared = SharedPart(graph, model.Shared, x, featureTasks.Length);
        var features = new string[model.TaskCount];
        for (int j = 0; j < featureTasks.Length; j++) features[featureTasks[j]] = shared[j];

        // In the task graph's order (every task after those it reads), as MultiTaskModel.Forward; outputs in head order.
        var order = spec.Graph?.Order(spec.Heads) ?? [.. Enumerable.Range(0, model.TaskCount)];
        var z = new string[model.TaskCount];              // values (training units) or logits; a product's p
        var probability = new string?[model.TaskCount];   // σ(z) or softmax(z), made once when first needed
        string Probability(int t) => probability[t] ??= spec.IsProduct(t) ? z[t]
            : spec.Heads[t].Kind == TaskKind.Classification ? graph.Node("Softmax", [z[t]], spec.Heads[t].Name + ".softmax", OnnxGraph.Int("axis", 1))
            : graph.Node("Sigmoid", [z[t]], spec.Heads[t].Name + ".sigmoid");   // σ(z) = P(class 1) per logit
        // What another task reads of task t (§17.7): a regression's value in training units, else its probabilities.
        string Prediction(int t) => spec.Heads[t].Kind == TaskKind.Regression ? z[t] : Probability(t);
        foreach (int t in order)
        {
            var head = spec.Heads[t];
            if (spec.Graph is { } products && products.Products.TryGetValue(head.Name, out var factors))
            {
                // p_t = Π p_f in factor order, each factor's probability (σ of its logit, or a product's p), as Predict.
                var p = Prediction(spec.IndexOf(factors[0]));
                for (int f = 1; f < factors.Length; f++) p = graph.Node("Mul", [p, Prediction(spec.IndexOf(factors[f]))], head.Name + ".product");
                z[t] = p;
                continue;
            }
            var h = features[t];
            if (spec.Graph is { } inputs && inputs.Inputs.TryGetValue(head.Name, out var sources))   // [h | a₁ | a₂ …] (§17.7)
                h = graph.Node("Concat", [h, .. sources.Select(s => Prediction(spec.IndexOf(s)))], head.Name + ".tower_input", OnnxGraph.Int("axis", 1));
            if (model.Towers[t] is { } tower) h = graph.Mlp(tower, h);
            z[t] = graph.Dense(model.Heads[t], h);
        }
        for (int t = 0; t < model.TaskCount; t++)
        {
            var head = spec.Heads[t];
            if (spec.IsProduct(t)) graph.Output(z[t], ProbabilitiesName(head), head.Outputs);   // p only: a product has no logit
            else if (head.Kind != TaskKind.Regression)
            {
                graph.Output(z[t], OutputName(head), head.Outputs);
                graph.Output(Probability(t), ProbabilitiesName(head), head.Outputs);
            }
            else
                graph.Output(scale is null ? z[t] : graph.Unstandardize(z[t], scale.Target(head.Name), "targets." + head.Name), OutputName(head), head.Outputs);
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
        DSelectK<float> dselect => DSelectKOnnx.Export(graph, dselect, input, tasks),
        _ => throw new NotSupportedException(
            $"ONNX export: no exporter for the shared part {part.GetType().Name} yet; add one to Engine/Export/Architectures/ and a case in OnnxExport.SharedPart."),
    };
}
