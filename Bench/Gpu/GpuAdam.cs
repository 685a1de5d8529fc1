using System.Globalization;
using Engine.Bench.Compare;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Bench.Gpu;

/// <summary>
/// <c>gpu adam</c>: one Adam step over N float32 parameters held as 8 equal tensors (N = 10M and 100M by default), the
/// same step with global-norm clipping folded in (<see cref="GradientClipper{T}.Clip"/> then <c>Step</c>), and a
/// device-to-device copy of the bytes Adam moves (28 per parameter: θ, g, m, v read, θ, m, v written; the copy moves
/// 3.5·N floats one way), beside <c>torch.optim.Adam(fused=True)</c>, <c>clip_grad_norm_</c> + that, and
/// <c>Tensor.copy_</c>. Targets on the H200: Adam ≥ 85 % of the copy's bandwidth and faster than PyTorch's fused Adam;
/// clip + Adam ≤ 1.15 × Adam.
/// </summary>
public static class GpuAdam
{
    /// <summary>Tensors the N parameters are split into (the peer splits them the same way).</summary>
    public const int Tensors = 8;

    public static void Run(Backend<float> backend, GpuOptions o, TorchPeer? peer)
    {
        var ours = new List<(long N, BlockTiming Adam, BlockTiming ClipAdam, BlockTiming Copy)>();
        foreach (long n in o.Params)
        {
            using var parameters = new FlatParameters<float>(backend);
            for (int t = 0; t < Tensors; t++) parameters.Add($"p{t}", (int)(n / Tensors + (t == Tensors - 1 ? n % Tensors : 0)));
            parameters.Allocate();
            backend.Fill(parameters.Values, 0.5f);
            backend.Fill(parameters.Gradients, 1e-3f);
            using var adam = new Adam<float>(backend, parameters, new AdamOptions());
            using var clipper = new GradientClipper<float>(backend, parameters, adam.Control);
            var step = GpuCommand.Time(backend, o, adam.Step);
            var clipStep = GpuCommand.Time(backend, o, () => { clipper.Clip(1.0); adam.Step(); });
            using var source = backend.Allocate<float>((int)(n / 2 * 7));
            using var target = backend.Allocate<float>((int)(n / 2 * 7));
            backend.Fill(source.View, 1f);
            var copy = GpuCommand.Time(backend, o, () => backend.Copy(source.View, target.View));
            ours.Add((n, step, clipStep, copy));
        }
        var records = peer?.Run(o.PeerArguments("--part", "adam", "--params", string.Join(',', o.Params))) ?? [];
        GpuCommand.PeerNote(peer);
        Console.WriteLine();
        Console.WriteLine($"Adam over N parameters in {Tensors} tensors; GB/s = 28·N bytes / time (the copy moves the same bytes); " +
                          "speed = PyTorch time ÷ ours (> 1: ours faster); targets: Adam ≥ 85 % of copy, speed vs fused Adam > 1, clip+Adam ÷ Adam ≤ 1.15:");
        Console.WriteLine();
        Console.WriteLine("| N | ours Adam ms | GB/s | % of copy | ours clip+Adam ms | ÷ Adam | ours copy GB/s | PyTorch fused Adam ms | GB/s | " +
                          "PyTorch clip+Adam ms | PyTorch copy GB/s | speed vs PyTorch (Adam) | speed vs PyTorch (clip+Adam) |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (n, step, clipStep, copy) in ours)
        {
            double Gbs(double ms) => 28.0 * n / (ms * 1e6);
            var torch = records.FirstOrDefault(r => r.Kind == "adam" && r.Name == n.ToString(CultureInfo.InvariantCulture));
            double? torchClip = torch is not null && torch.Raw.TryGetProperty("clip_ms", out var c) ? c.GetDouble() : null;
            Console.WriteLine($"| {n:N0} | {GpuCommand.Ms(step.MedianMs)} | {Gbs(step.MedianMs):F1} | {100 * copy.MedianMs / step.MedianMs:F0} % | " +
                $"{GpuCommand.Ms(clipStep.MedianMs)} | {GpuCommand.Ratio(clipStep.MedianMs / step.MedianMs)} | {Gbs(copy.MedianMs):F1} | " +
                (torch is null ? "— | — | — | — | — | — |" :
                 $"{GpuCommand.Ms(torch.Ms)} | {Gbs(torch.Ms):F1} | {(torchClip is double tc ? GpuCommand.Ms(tc) : "—")} | {Gbs(torch.CopyMs!.Value):F1} | " +
                 $"{GpuCommand.Ratio(torch.Ms / step.MedianMs)} | {GpuCommand.Ratio(torchClip is double tc2 ? tc2 / clipStep.MedianMs : null)} |"));
        }
    }
}
