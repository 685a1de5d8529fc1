using System.Diagnostics;
using System.Globalization;
using Engine.Bench.Workloads;
using Engine.Kernels.Cpu;

namespace Engine.Bench.Compare;

/// <summary>
/// <c>profile --workload small --variant sum [--seconds 10] [--threads 2] [--impl engine|direct|separate]</c>: runs one
/// workload's step in a loop for a while — a target for <c>dotnet-trace collect -- …</c> or <c>dotnet-counters</c> — and
/// prints, once a second, the step time, managed bytes allocated per step on the calling thread, the process's thread count, the
/// thread pool's size and the CPU time used per wall-clock second (≈ cores kept busy).
/// </summary>
public static class ProfileCommand
{
    public static int Run(string[] args)
    {
        string workloadName = "small", variantName = "sum", impl = "direct";
        double seconds = 10;
        int threads = 2;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--workload": workloadName = Next(); break;
                case "--variant": variantName = Next(); break;
                case "--impl": impl = Next(); break;
                case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"Unknown argument '{args[i]}'."); return 2;
            }
        }
        var workload = Workload.Named(workloadName);
        var variant = Enum.Parse<StepVariant>(variantName, ignoreCase: true);
        using var backend = new CpuBackend<float>(threads);
        using var step = StepFactory.Create(impl, workload, variant, backend);
        for (int i = 0; i < 3; i++) step.Run();

        var process = Process.GetCurrentProcess();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var second = Stopwatch.StartNew();
            int steps = 0;
            while (second.Elapsed.TotalSeconds < 1 || steps == 0)
            {
                step.Run();
                steps++;
            }
            double wall = second.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            double bytes = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)steps;
            Console.WriteLine($"{workload.Name} {variant}: {wall / steps * 1e3,9:F3} ms/step, {bytes,8:F0} B/step, " +
                              $"{process.Threads.Count} OS threads, {ThreadPool.ThreadCount} pool threads, {cpu / wall:F2} cores busy");
        }
        return 0;
    }
}
