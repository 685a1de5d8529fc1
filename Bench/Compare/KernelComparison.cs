using System.Globalization;
using Engine.Bench.Kernels;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Bench.Compare;

/// <summary>
/// <c>compare --kernels</c>: the kernels under the steps, ours and PyTorch's — GEMM on the large workload's layer
/// shapes (and 1024³), and Adam against a plain copy of the same number of bytes: Adam moves 28 bytes per parameter
/// (θ, g, m, v read; θ, m, v written), so the copy moves 3.5·N floats from one buffer to another (14·N bytes read,
/// 14·N written) and touches as much memory as Adam does — neither fits in a cache the other misses.
/// </summary>
public static class KernelComparison
{
    /// <summary>The shapes, named as the peer names them.</summary>
    public static IReadOnlyList<GemmShape> Shapes { get; } =
    [
        new("1024^3 NN", false, false, 1024, 1024, 1024),
        new("large.l1.fwd NT", false, true, 512, 2048, 1024),
        new("large.l1.dW TN", true, false, 2048, 1024, 512, Beta: 1),
        new("large.l2.fwd NT", false, true, 512, 2048, 2048),
        new("large.l2.dX NN", false, false, 512, 2048, 2048),
        new("large.l2.dW TN", true, false, 2048, 2048, 512, Beta: 1),
    ];

    public static void Run(Backend<float> backend, TorchPeer? peer, int repeats, Action<string> line)
    {
        var ours = new List<(GemmShape Shape, Timing Timing)>();
        foreach (var shape in Shapes)
        {
            using var operands = new GemmOperands(backend, shape);
            ours.Add((shape, StepTimer.Measure(() => { operands.Run(); backend.Synchronize(); }, repeats)));
        }
        var adam = new List<(int Count, Timing Adam, Timing Copy)>();
        foreach (int count in new[] { 1_000_000, 10_000_000 })
        {
            using var parts = new AdamParts(backend, count);
            adam.Add((count, StepTimer.Measure(parts.Step, repeats), StepTimer.Measure(parts.Copy, repeats)));
        }
        var records = peer?.Run("--only", "", "--kernels", "--repeats", repeats.ToString(CultureInfo.InvariantCulture)) ?? [];

        line("GEMM (float32; GFLOP/s = 2·m·n·k / median time, and / fastest time — on a shared machine the fastest is the " +
             "least disturbed; dW shapes accumulate, beta = 1, in ours; PyTorch's is torch.mm on the same transposes):");
        line("");
        line("| shape | m | n | k | ours (ms) | ours GFLOP/s | PyTorch (ms) | PyTorch GFLOP/s | ours ÷ PyTorch | ours best GFLOP/s | PyTorch best GFLOP/s | best ÷ best |");
        line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (shape, timing) in ours)
        {
            var torch = records.FirstOrDefault(r => r.Kind == "gemm" && r.Name == shape.Name);
            double gflops = shape.Flops / (timing.MedianMs * 1e6), best = shape.Flops / (timing.MinMs * 1e6);
            double? torchBestMs = torch is not null && torch.Raw.TryGetProperty("min_ms", out var min) ? min.GetDouble() : null;
            line($"| {shape.Name} | {shape.M} | {shape.N} | {shape.K} | {CompareCommand.Ms(timing.MedianMs)} | {gflops:F1} | " +
                 (torch is null ? "— | — | — | " : $"{CompareCommand.Ms(torch.Ms)} | {shape.Flops / (torch.Ms * 1e6):F1} | {torch.Ms / timing.MedianMs:F2}× | ") +
                 $"{best:F1} | " +
                 (torchBestMs is double tb ? $"{shape.Flops / (tb * 1e6):F1} | {tb / timing.MinMs:F2}× |" : "— | — |"));
        }
        line("");
        line("Adam (one step over a flat buffer of N parameters, no clipping) against a copy of the same bytes (3.5·N floats, 28·N bytes moved, like Adam):");
        line("");
        line("| parameters | ours Adam (ms) | ours Adam GB/s | ours copy GB/s | ours Adam % of copy | PyTorch Adam (ms) | PyTorch Adam GB/s | PyTorch copy GB/s |");
        line("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (count, step, copy) in adam)
        {
            double adamGbs = 28.0 * count / (step.MedianMs * 1e6), copyGbs = 28.0 * count / (copy.MedianMs * 1e6);
            var torch = records.FirstOrDefault(r => r.Kind == "adam" && r.Name == count.ToString(CultureInfo.InvariantCulture));
            line($"| {count:N0} | {CompareCommand.Ms(step.MedianMs)} | {adamGbs:F1} | {copyGbs:F1} | {100 * adamGbs / copyGbs:F0}% | " +
                 (torch is null ? "— | — | — |" : $"{CompareCommand.Ms(torch.Ms)} | {28.0 * count / (torch.Ms * 1e6):F1} | {28.0 * count / (torch.CopyMs!.Value * 1e6):F1} |"));
        }
        line("");
    }

    /// <summary>A flat buffer of <c>count</c> parameters with gradients, Adam on it, and a copy of 3.5·count floats.</summary>
    private sealed class AdamParts : IDisposable
    {
        private readonly Backend<float> _backend;
        private readonly FlatParameters<float> _parameters;
        private readonly Adam<float> _adam;
        private readonly DeviceBuffer<float> _copySource, _copyTarget;

        public AdamParts(Backend<float> backend, int count)
        {
            _backend = backend;
            _parameters = new FlatParameters<float>(backend);
            _parameters.Add("p", count);
            _parameters.Allocate();
            var random = new Random(3);
            var values = new float[count];
            for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
            backend.Upload<float>(values, _parameters.Values);
            for (int i = 0; i < count; i++) values[i] *= 1e-3f;
            backend.Upload<float>(values, _parameters.Gradients);
            _adam = new Adam<float>(backend, _parameters, new AdamOptions());
            _copySource = backend.Allocate<float>(count / 2 * 7);
            _copyTarget = backend.Allocate<float>(count / 2 * 7);
            backend.Fill(_copySource.View, 1f);
        }

        public void Step() { _adam.Step(); _backend.Synchronize(); }
        public void Copy() { _backend.Copy(_copySource.View, _copyTarget.View); _backend.Synchronize(); }

        public void Dispose()
        {
            _copySource.Dispose();
            _copyTarget.Dispose();
            _adam.Dispose();
            _parameters.Dispose();
        }
    }
}
