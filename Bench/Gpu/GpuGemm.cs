using System.Globalization;
using Engine.Bench.Compare;
using Engine.Bench.Kernels;
using Engine.Kernels;

namespace Engine.Bench.Gpu;

/// <summary>
/// <c>gpu gemm</c>: float32 GEMM at <c>--size</c>³ (4096 by default) and on the large workload's layer shapes
/// (<see cref="KernelComparison.Shapes"/>; every dimension divided by <c>--scale</c> in a dry run), beside
/// <c>torch.mm</c> with TF32 off. Target on the H200: ours ≥ 0.70 of cuBLAS (as PyTorch calls it). Then the batched
/// expert GEMM of the mixture layers (<see cref="BatchedShape"/>) beside <c>torch.baddbmm</c> + <c>relu_</c>.
/// </summary>
public static class GpuGemm
{
    /// <summary>The shapes, named as the peer names them.</summary>
    public static IReadOnlyList<GemmShape> Shapes(int size, int scale) =>
    [
        new($"{size}^3 NN", false, false, size, size, size),
        .. KernelComparison.Shapes.Select(s => s with { M = Math.Max(1, s.M / scale), N = Math.Max(1, s.N / scale), K = Math.Max(1, s.K / scale) }),
    ];

    public static void Run(Backend<float> backend, GpuOptions o, TorchPeer? peer)
    {
        var shapes = Shapes(o.Size, o.Scale);
        var ours = new List<BlockTiming>();
        foreach (var shape in shapes)
        {
            using var operands = new GemmOperands(backend, shape);
            ours.Add(GpuCommand.Time(backend, o, operands.Run));
        }
        var records = peer?.Run(o.PeerArguments("--part", "gemm", "--size", o.Size.ToString(CultureInfo.InvariantCulture),
            "--scale", o.Scale.ToString(CultureInfo.InvariantCulture))) ?? [];
        GpuCommand.PeerNote(peer);
        Console.WriteLine();
        Console.WriteLine("GEMM, float32 (TF32 off on both sides); GFLOP/s = 2·m·n·k / median time; speed = PyTorch time ÷ ours; target ≥ 0.70 on the H200:");
        Console.WriteLine();
        Console.WriteLine("| shape | m | n | k | ours ms | ours GFLOP/s | ours best GFLOP/s | PyTorch ms | PyTorch GFLOP/s | speed vs PyTorch |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (int i = 0; i < shapes.Count; i++)
        {
            var (shape, t) = (shapes[i], ours[i]);
            var torch = records.FirstOrDefault(r => r.Kind == "gemm" && r.Name == shape.Name);
            Console.WriteLine($"| {shape.Name} | {shape.M} | {shape.N} | {shape.K} | {GpuCommand.Ms(t.MedianMs)} | {shape.Flops / (t.MedianMs * 1e6):F1} | " +
                $"{shape.Flops / (t.MinMs * 1e6):F1} | " +
                (torch is null ? "— | — | — |" : $"{GpuCommand.Ms(torch.Ms)} | {shape.Flops / (torch.Ms * 1e6):F1} | {GpuCommand.Ratio(torch.Ms / t.MedianMs)} |"));
        }
        Batched(backend, o, records);
    }

    /// <summary>The experts of an MMoE layer: E = 8 problems in one launch, the input shared (stride 0), a weight per
    /// expert read transposed, bias and ReLU fused: <c>Yₑ = relu(X·Wₑᵀ + bₑ)</c>, X [size × size/8], Wₑ [size/8 × size/8].</summary>
    public static (int Experts, int M, int N, int K) BatchedShape(int size) => (8, size, Math.Max(4, size / 8 / 4 * 4), Math.Max(4, size / 8 / 4 * 4));

    private static void Batched(Backend<float> backend, GpuOptions o, IReadOnlyList<PeerRecord> records)
    {
        var (experts, m, n, k) = BatchedShape(o.Size);
        var random = new Random(7);
        float[] Values(long length) => Enumerable.Range(0, checked((int)length)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var x = backend.Allocate<float>(Values((long)m * k));
        using var w = backend.Allocate<float>(Values((long)experts * n * k));
        using var bias = backend.Allocate<float>(Values((long)experts * n));
        using var y = backend.Allocate<float>(new float[(long)experts * m * n]);
        var t = GpuCommand.Time(backend, o, () => backend.BatchedGemm(false, true, m, n, k, 1f, x.View, 0, w.View, n * k, 0f, y.View, m * n,
            experts, bias.View, n, Activation.Relu));
        double flops = 2.0 * experts * m * n * k;
        string name = $"moe {experts}x{m}x{n}x{k}";
        var torch = records.FirstOrDefault(r => r.Kind == "bgemm" && r.Name == name);
        Console.WriteLine();
        Console.WriteLine("Batched expert GEMM (Backend.BatchedGemm, one launch, bias + ReLU fused) beside torch.baddbmm + relu_ (eager, TF32 off):");
        Console.WriteLine();
        Console.WriteLine("| problems | experts | m | n | k | ours ms | ours GFLOP/s | PyTorch ms | PyTorch GFLOP/s | speed vs PyTorch |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        Console.WriteLine($"| {name} | {experts} | {m} | {n} | {k} | {GpuCommand.Ms(t.MedianMs)} | {flops / (t.MedianMs * 1e6):F1} | " +
            (torch is null ? "— | — | — |" : $"{GpuCommand.Ms(torch.Ms)} | {flops / (torch.Ms * 1e6):F1} | {GpuCommand.Ratio(torch.Ms / t.MedianMs)} |"));
    }
}
