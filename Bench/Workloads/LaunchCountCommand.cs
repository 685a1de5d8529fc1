using Engine.Kernels;
using Engine.Kernels.Ilgpu;

namespace Engine.Bench.Workloads;

/// <summary>
/// The <c>launches</c> subcommand: kernel launches, host synchronisations and uploads of ONE warm training step
/// (<see cref="EngineStep"/>: Adam, clip 1.0, Sum and PCGrad) per workload, on an ILGPU device
/// (<c>--device cuda|ilgpu-cpu|auto</c>), from <see cref="IlgpuBackend.Counters"/>. The harness's own
/// Synchronize after the step is not counted. Usage: <c>launches [--device D] [--workload small|medium|large]</c>.
/// </summary>
public static class LaunchCountCommand
{
    public static int Run(string[] args)
    {
        string device = "auto";
        string? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--device" && i + 1 < args.Length) device = args[++i];
            else if (args[i] == "--workload" && i + 1 < args.Length) only = args[++i];
            else { Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: launches [--device cuda|ilgpu-cpu|auto] [--workload small|medium|large]"); return 2; }
        }
        using var backend = Device.Create(device);
        if (backend is not IlgpuBackend ilgpu)
        {
            Console.Error.WriteLine($"launches: device '{device}' opened {backend.Info.Kind}, which has no launch counter (use cuda or ilgpu-cpu).");
            return 2;
        }
        Console.WriteLine($"Launches and host syncs of one warm training step on {backend.Info.Name} ({backend.Info.Kind}).");
        Console.WriteLine($"{"workload",-8} {"combination",-11} {"launches",8} {"host syncs",10} {"uploads",7}");
        foreach (var workload in Workload.All)
        {
            if (only is not null && workload.Name != only) continue;
            foreach (var variant in new[] { StepVariant.Sum, StepVariant.PcGrad })
            {
                using var step = EngineStep.Create(workload, variant, backend);
                step.Run(); // warm: kernel compilation, arena growth
                var before = ilgpu.Counters;
                step.Run();
                var d = ilgpu.Counters - before;
                Console.WriteLine($"{workload.Name,-8} {variant,-11} {d.Launches,8} {d.HostSyncs - 1,10} {d.Uploads,7}");
            }
        }
        return 0;
    }
}
