using Engine.Bench.Compare;
using Engine.Bench.Workloads;
using Engine.Kernels;

namespace Engine.Bench.Gpu;

/// <summary>
/// <c>gpu steps</c>: the training-step workloads (<see cref="Workload.All"/>, or <c>--only</c>; Sum and PCGrad) as the
/// library runs them (<see cref="EngineStep"/>: forward, backward, clip 1.0, Adam) on the device, beside PyTorch eager
/// on the peer's device (Bench/peers/torch_mtl.py: fused Adam, <c>clip_grad_norm_</c>, TF32 off). Each step ends with
/// a Synchronize on both sides. The launch and sync count of one step is the <c>launches</c> command's.
/// </summary>
public static class GpuSteps
{
    public static void Run(Backend<float> backend, GpuOptions o, TorchPeer? peer)
    {
        var workloads = o.Only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Workload.Named).ToList();
        var ours = new List<(Workload W, StepVariant V, BlockTiming T)>();
        foreach (var workload in workloads)
            foreach (var variant in new[] { StepVariant.Sum, StepVariant.PcGrad })
            {
                using var step = EngineStep.Create(workload, variant, backend);
                ours.Add((workload, variant, BlockTimer.Measure(step.Run, () => { }, o.Repeats, o.BlockMs, o.WarmupMs)));
            }
        var records = peer?.Run("--device", o.EffectivePeerDevice, "--only", string.Join(',', workloads.Select(w => w.Name)),
            "--repeats", o.Repeats.ToString(System.Globalization.CultureInfo.InvariantCulture)) ?? [];
        GpuCommand.PeerNote(peer);
        Console.WriteLine();
        Console.WriteLine($"Training steps (forward, backward, clip 1.0, Adam), ours on {backend.Info.Kind}, PyTorch eager on {o.EffectivePeerDevice}; " +
                          "speed = PyTorch time ÷ ours:");
        Console.WriteLine();
        Console.WriteLine("| workload | combination | ours ms | ours GFLOP/s | PyTorch ms | PyTorch GFLOP/s | speed vs PyTorch |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (w, v, t) in ours)
        {
            double flops = w.Flops(v);
            string variant = v == StepVariant.Sum ? "sum" : "pcgrad";
            var torch = records.FirstOrDefault(r => r.Kind == "step" && r.Name == w.Name && r.Variant == variant);
            Console.WriteLine($"| {w.Name} | {variant} | {GpuCommand.Ms(t.MedianMs)} | {flops / (t.MedianMs * 1e6):F1} | " +
                (torch is null ? "— | — | — |" : $"{GpuCommand.Ms(torch.Ms)} | {flops / (torch.Ms * 1e6):F1} | {GpuCommand.Ratio(torch.Ms / t.MedianMs)} |"));
        }
    }
}
