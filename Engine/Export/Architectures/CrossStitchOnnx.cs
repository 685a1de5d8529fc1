namespace Engine.Export.Architectures;

/// <summary>
/// Cross-stitch's nodes: layer i of the T columns as one batched layer ([T × batch × H]), then each hidden unit α
/// [T × T] as <c>ReduceSum(Unsqueeze(h, 0) · α[:, :, 1, 1], axis 1)</c> → [T × batch × H] and task t's row of the last
/// unit as <c>ReduceSum(h · αₜ[:, 1, 1], axis 0)</c> → [batch × H] (only Mul and ReduceSum, as the mixture of experts).
/// </summary>
internal static class CrossStitchOnnx
{
    public static string[] Export(OnnxGraph graph, CrossStitch<float> part, string input, int tasks)
    {
        var h = graph.Layers(part.AfterColumn(0), graph.BatchedDense(part.Columns[0], input));
        for (int i = 1; i < part.Columns.Count; i++)
        {
            string name = $"stitch.{i - 1}";
            var unit = graph.Constant(name, graph.Model.ReadParameter(name), tasks, tasks, 1, 1);
            var lifted = graph.Node("Unsqueeze", [h, graph.ConstantInt64(name + ".axis0", 0)], name + ".lifted");   // [1 × T × B × H]
            var weighted = graph.Node("Mul", [lifted, unit], name + ".weighted");                                  // [T × T × B × H]
            h = graph.Node("ReduceSum", [weighted, graph.ConstantInt64(name + ".axis1", 1)], name + ".mixed", OnnxGraph.Int("keepdims", 0));
            h = graph.Layers(part.AfterColumn(i), graph.BatchedDense(part.Columns[i], h));
        }
        var features = new string[tasks];
        for (int t = 0; t < tasks; t++)
        {
            string name = part.LastRow(t).Name!;
            var row = graph.Constant(name, graph.Model.ReadParameter(name), tasks, 1, 1);
            var weighted = graph.Node("Mul", [h, row], name + ".weighted");                                         // [T × B × H]
            features[t] = graph.Node("ReduceSum", [weighted, graph.ConstantInt64(name + ".axis0", 0)], name + ".mixed", OnnxGraph.Int("keepdims", 0));
        }
        return features;
    }
}
