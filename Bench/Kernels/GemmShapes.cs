namespace Engine.Bench.Kernels;

/// <summary>A GEMM shape to measure: <c>C[m×n] = op(A)·op(B)</c> with inner dimension k.</summary>
public sealed record GemmShape(string Name, bool TransA, bool TransB, int M, int N, int K, float Beta = 0)
{
    /// <summary>Floating-point operations of one call (one multiply and one add per inner-product term).</summary>
    public double Flops => 2.0 * M * N * K;

    public override string ToString() => Name;

    /// <summary>Square sizes, and the three GEMMs of a dense 1024 → 2048 layer on a batch of 512:
    /// forward Y = X·Wᵀ (NT), input gradient dX = dY·W (NN), weight gradient dW += dYᵀ·X (TN, beta = 1).</summary>
    public static IReadOnlyList<GemmShape> Report { get; } =
    [
        new("256³ NN", false, false, 256, 256, 256),
        new("512³ NN", false, false, 512, 512, 512),
        new("1024³ NN", false, false, 1024, 1024, 1024),
        new("1024³ NT", false, true, 1024, 1024, 1024),
        new("1024³ TN", true, false, 1024, 1024, 1024),
        new("1024³ TT", true, true, 1024, 1024, 1024),
        new("2048³ NN", false, false, 2048, 2048, 2048),
        new("layer fwd NT 512x2048 k1024", false, true, 512, 2048, 1024),
        new("layer dX NN 512x1024 k2048", false, false, 512, 1024, 2048),
        new("layer dW TN 2048x1024 k512", true, false, 2048, 1024, 512, Beta: 1),
    ];

    /// <summary>
    /// Every GEMM of every workload's training step (Bench/Workloads/Workload.cs), per dense layer with W [out × in]
    /// on a batch B: forward <c>Y = X·Wᵀ</c> (NT, B×out, k = in); input gradient <c>dX = dY·W</c> (NN, B×in, k = out;
    /// not for the first layer); weight gradient <c>dW = dYᵀ·X</c> (TN, out×in, k = B). For a trunk layer under
    /// PCGrad, the stacked input gradient of all T tasks at once (NN, T·B×in). Names: workload.layer.kind.
    /// </summary>
    public static IReadOnlyList<GemmShape> Layers { get; } = BuildLayers();

    private static List<GemmShape> BuildLayers()
    {
        var shapes = new List<GemmShape>();
        foreach (var w in Workloads.Workload.All)
        {
            int index = 0;
            foreach (var (inputs, outputs) in w.TrunkLayers)
            {
                string name = $"{w.Name}.trunk{index}";
                shapes.Add(new($"{name}.fwd NT", false, true, w.Batch, outputs, inputs));
                if (index > 0)
                {
                    shapes.Add(new($"{name}.dX NN", false, false, w.Batch, inputs, outputs));
                    shapes.Add(new($"{name}.dX×{w.Tasks} NN (pcgrad)", false, false, w.Tasks * w.Batch, inputs, outputs));
                }
                shapes.Add(new($"{name}.dW TN", true, false, outputs, inputs, w.Batch, Beta: 1));
                index++;
            }
            foreach (int outputs in w.Heads.Select(h => h.Outputs).Distinct())
            {
                string name = $"{w.Name}.head{outputs}";
                shapes.Add(new($"{name}.fwd NT", false, true, w.Batch, outputs, w.Width));
                shapes.Add(new($"{name}.dX NN", false, false, w.Batch, w.Width, outputs));
                shapes.Add(new($"{name}.dW TN", true, false, outputs, w.Width, w.Batch, Beta: 1));
            }
        }
        return shapes;
    }
}
