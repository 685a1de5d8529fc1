namespace Engine.Export.Architectures;

/// <summary>
/// MMoE's and OMoE's nodes: the experts as a stack of batched layers ([E × batch × H]), then per gate
/// <c>g = Softmax(x·W_gᵀ)</c> [batch × E] and the mixture <c>f[b] = Σₑ g[b, e]·y[e, b]</c>
/// (<c>Transpose</c> → [E × batch], <c>Unsqueeze</c> → [E × batch × 1], <c>Mul</c>, <c>ReduceSum</c> over axis 0).
/// OMoE's one gate is exported once and its mixture read by every task.
/// </summary>
internal static class MixtureOfExpertsOnnx
{
    public static string[] Export(OnnxGraph graph, MixtureOfExperts<float> part, string input, int tasks)
    {
        var experts = graph.Mlp(part.ExpertLayers, input);
        var mixtures = new Dictionary<Autodiff.Dense<float>, string>(ReferenceEqualityComparer.Instance);
        var features = new string[tasks];
        for (int t = 0; t < tasks; t++)
        {
            var gate = part.Gate(t);
            if (!mixtures.TryGetValue(gate, out var mixed))
                mixtures[gate] = mixed = Mixture(graph, experts, Gate(graph, gate, input), gate.Name);
            features[t] = mixed;
        }
        return features;
    }

    /// <summary>softmax(x·W_gᵀ) over the experts: [batch × E].</summary>
    internal static string Gate(OnnxGraph graph, Autodiff.Dense<float> gate, string input) =>
        graph.Node("Softmax", [graph.Dense(gate, input)], gate.Name + ".softmax", OnnxGraph.Int("axis", 1));

    /// <summary>Σₑ g[b, e]·y[e, b, :] → [batch × H].</summary>
    internal static string Mixture(OnnxGraph graph, string experts, string gates, string name)
    {
        var perExpert = graph.Node("Transpose", [gates], name + ".transposed", OnnxGraph.Ints("perm", 1, 0));          // [E × batch]
        var column = graph.Node("Unsqueeze", [perExpert, graph.ConstantInt64(name + ".axis2", 2)], name + ".column");    // [E × batch × 1]
        var weighted = graph.Node("Mul", [experts, column], name + ".weighted");                                         // [E × batch × H]
        return graph.Node("ReduceSum", [weighted, graph.ConstantInt64(name + ".axis0", 0)], name + ".mixture", OnnxGraph.Int("keepdims", 0));
    }
}
