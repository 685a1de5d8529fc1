using Engine.Autodiff;

namespace Engine.Export;

/// <summary>
/// The input embedding's nodes: the passed-through columns by <c>Slice</c>; each index column by <c>Slice</c>, <c>Clip</c> to
/// [0, count − 1] (an index beyond the vocabulary reads the reserved last row, as the engine's kernels do; a negative one
/// reads row 0, where the engine's reads the last row — the engine never produces one), <c>Cast</c> to int64,
/// <c>Gather</c> on axis 0 of the table (<c>embeddings.{t}.weight</c>) and <c>Flatten</c> from [batch × 1 × dim] to
/// [batch × dim]; then one <c>Concat</c> on axis 1 — what <see cref="Ops.EmbedInputs{T}"/> computes.
/// </summary>
internal static class EmbeddingOnnx
{
    public static string Export(OnnxGraph graph, InputEmbedding<float> embedding, string input)
    {
        var one = graph.ConstantInt64("embeddings.axis1", 1);
        string Columns(int start, int end, string name) =>
            graph.Node("Slice", [input, graph.ConstantInt64(name + ".start", start), graph.ConstantInt64(name + ".end", end), one], name);
        var parts = new List<string>();
        if (embedding.PassThrough > 0) parts.Add(Columns(0, embedding.PassThrough, "embeddings.passed"));
        for (int t = 0; t < embedding.Slots.Count; t++)
        {
            var slot = embedding.Slots[t];
            int count = slot.Shape[0], dim = slot.Shape[1];
            string name = $"embeddings.{t}";
            var column = Columns(embedding.PassThrough + t, embedding.PassThrough + t + 1, name + ".index");
            var clipped = graph.Node("Clip", [column, graph.Constant(name + ".min", [0f]), graph.Constant(name + ".max", [count - 1f])], name + ".clipped");
            var index = graph.Node("Cast", [clipped], name + ".int64", OnnxGraph.Int("to", (long)Onnx.TensorProto.Types.DataType.Int64));
            var table = graph.Constant(slot.Name, graph.Model.ReadParameter(slot.Name), count, dim);
            var rows = graph.Node("Gather", [table, index], name + ".gathered", OnnxGraph.Int("axis", 0));
            parts.Add(graph.Node("Flatten", [rows], name + ".rows", OnnxGraph.Int("axis", 1)));
        }
        return parts.Count == 1 ? parts[0] : graph.Node("Concat", parts, "embeddings.output", OnnxGraph.Int("axis", 1));
    }
}
