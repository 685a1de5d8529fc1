namespace Engine.Export.Architectures;

/// <summary>The shared bottom's nodes: its trunk MLP, whose output every task reads.</summary>
internal static class SharedBottomOnnx
{
    public static string[] Export(OnnxGraph graph, SharedBottom<float> part, string input, int tasks)
    {
        var features = graph.Mlp(part.Trunk, input);
        return [.. Enumerable.Repeat(features, tasks)];
    }
}
