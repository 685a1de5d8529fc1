using BenchmarkDotNet.Running;
using Engine.Bench.Kernels;

namespace Engine.Bench;

/// <summary>
/// <c>dotnet run -c Release --project Bench -- [BenchmarkDotNet arguments]</c> runs the BenchmarkDotNet
/// suites found in this assembly (e.g. <c>--filter '*Gemm*'</c>);
/// <c>dotnet run -c Release --project Bench -- gflops [--device cpu|cuda|ilgpu-cpu|auto]</c> prints a quick
/// GFLOP/s table for GEMM (a report, not a rigorous benchmark);
/// <c>dotnet run -c Release --project Bench -- compare [--threads 2] [--repeats N] [--kernels]</c> times our training
/// steps and PyTorch's side by side and prints a Markdown table;
/// <c>dotnet run -c Release --project Bench -- soak [--steps 1000000]</c> runs the soak benchmark (flat memory over a
/// million training steps); <c>launches [--device cuda|ilgpu-cpu]</c> counts the kernel launches and host syncs of one
/// training step; <c>methods</c> trains every registered method on the bundled datasets over three seeds (the results
/// tables of docs/results.md); <c>toy</c> runs every gradient method on CAGrad's two-objective toy; <c>mmoe-synthetic</c> compares shared-bottom, OMoE and MMoE on the MMoE paper's synthetic data; <c>gpu gemm|adam|gram|steps</c> are the engine's side of Bench/gpu-run.sh, beside PyTorch. See Bench/README.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // A bad argument or a missing file ends the run with one line naming it and a non-zero exit code, not a stack trace.
        return Methods.CommandArgs.Guarded(() => Dispatch(args));
    }

    private static int Dispatch(string[] args)
    {
        // `dotnet Engine.Bench.dll -- --filter …` (the packed GPU bundle has no `dotnet run` to eat the `--`) would pass
        // the `--` on, and BenchmarkDotNet then waits for input it never gets: drop it.
        if (args.Length > 0 && args[0] == "--") args = args[1..];
        if (args.Length > 0 && args[0] == "gflops")
            return GemmGflops.Run(args[1..]);
        if (args.Length > 0 && args[0] == "compare")
            return Compare.CompareCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "sass")
            return SassCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "profile")
            return Compare.ProfileCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "launches")
            return Workloads.LaunchCountCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "gpu")
            return Gpu.GpuCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "methods")
            return Methods.MethodTableCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "method-cost") return Methods.MethodCostCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "toy")
            return Methods.ToyCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "mmoe-synthetic")
            return Methods.MmoeSyntheticCommand.Run(args[1..]);
        if (args.Length > 0 && args[0] == "soak")
            return Soak.SoakCommand.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
