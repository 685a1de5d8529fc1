namespace Engine.Export.Architectures;

/// <summary>
/// PLE's and CGC's nodes, level by level: every expert group as a stack of batched layers ([E × batch × H]); task k's
/// gate <c>Softmax(qᵏ·W_kᵀ)</c> mixes <c>Concat(axis 0)</c> of its experts and the shared ones; below the last level the
/// shared gate mixes every task's experts and the shared ones (in that order, as <c>Ops.ConcatRows</c> stacks them)
/// into the next level's shared input.
/// </summary>
internal static class PleOnnx
{
    public static string[] Export(OnnxGraph graph, ProgressiveLayeredExtraction<float> part, string input, int tasks)
    {
        var sharedInput = input;
        var taskInputs = Enumerable.Repeat(input, tasks).ToArray();
        for (int j = 0; j < part.Levels; j++)
        {
            var shared = graph.Mlp(part.SharedExperts(j), sharedInput);
            var own = new string[tasks];
            for (int k = 0; k < tasks; k++) own[k] = graph.Mlp(part.TaskExperts(j, k), taskInputs[k]);
            string? nextShared = null;
            if (part.SharedGate(j) is { } sharedGate)
                nextShared = MixtureOfExpertsOnnx.Mixture(graph, Concat(graph, [.. own, shared], $"levels.{j}.all_experts"),
                    MixtureOfExpertsOnnx.Gate(graph, sharedGate, sharedInput), sharedGate.Name);
            for (int k = 0; k < tasks; k++)
            {
                var gate = part.TaskGate(j, k);
                taskInputs[k] = MixtureOfExpertsOnnx.Mixture(graph, Concat(graph, [own[k], shared], gate.Name + ".experts"),
                    MixtureOfExpertsOnnx.Gate(graph, gate, taskInputs[k]), gate.Name);
            }
            if (nextShared is not null) sharedInput = nextShared;
        }
        return taskInputs;
    }

    private static string Concat(OnnxGraph graph, string[] groups, string name) =>
        graph.Node("Concat", groups, name, OnnxGraph.Int("axis", 0));
}
