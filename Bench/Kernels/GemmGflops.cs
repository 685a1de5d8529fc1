using System.Diagnostics;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>The <c>gflops</c> subcommand: for each shape of <see cref="GemmShape.Report"/>, warm up, then time
/// several calls (each followed by Synchronize) and print the median GFLOP/s. A quick report for
/// humans; BenchmarkDotNet's <see cref="GemmBenchmarks"/> is the rigorous measurement.</summary>
public static class GemmGflops
{
    public static int Run(string[] args)
    {
        string device = "auto";
        int repeats = 7;
        int? threads = null;
        string? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--device" && i + 1 < args.Length) device = args[++i];
            else if (args[i] == "--repeats" && i + 1 < args.Length) repeats = int.Parse(args[++i]);
            else if (args[i] == "--threads" && i + 1 < args.Length) threads = int.Parse(args[++i]);
            else if (args[i] == "--shape" && i + 1 < args.Length) only = args[++i];
            else { Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: gflops [--device cpu|cuda|ilgpu-cpu|auto] [--repeats N] [--threads N (cpu only)] [--shape TEXT (shapes whose name contains it)]"); return 2; }
        }
        using var backend = threads is int count ? new Engine.Kernels.Cpu.CpuBackend<float>(count) : Device.Create(device);
        Console.WriteLine($"GEMM float32 on {backend.Info.Name} ({backend.Info.Kind}); median (and best) of {repeats} timed runs after warm-up.");
        Console.WriteLine($"{"shape",-30} {"m",6} {"n",6} {"k",6} {"median ms",10} {"GFLOP/s",8} {"best GFLOP/s",13}");
        Console.WriteLine(LoadAverage("before"));
        foreach (var shape in GemmShape.Report)
        {
            if (only is not null && !shape.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
            if (backend.Info.Kind == BackendKind.IlgpuCpu && shape.M * (long)shape.N * shape.K > 256L * 256 * 256)
            {
                Console.WriteLine($"{shape.Name,-30} (skipped: too large for the emulated GPU)");
                continue;
            }
            using var operands = new GemmOperands(backend, shape);
            operands.Run(); // warm-up (and ILGPU kernel compilation)
            operands.Run();
            backend.Synchronize();
            var times = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                long start = Stopwatch.GetTimestamp();
                operands.Run();
                backend.Synchronize();
                times[r] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            Array.Sort(times);
            double median = times[repeats / 2];
            Console.WriteLine($"{shape.Name,-30} {shape.M,6} {shape.N,6} {shape.K,6} {median * 1e3,10:F3} {shape.Flops / median / 1e9,8:F1} {shape.Flops / times[0] / 1e9,13:F1}");
        }
        Console.WriteLine(LoadAverage("after"));
        return 0;
    }

    /// <summary>The machine's load average (Linux), printed so that a noisy measurement says so.</summary>
    private static string LoadAverage(string when) =>
        File.Exists("/proc/loadavg")
            ? $"load average {when}: {File.ReadAllText("/proc/loadavg").Trim()} ({Environment.ProcessorCount} cores)"
            : "";
}

/// <summary>Device buffers for one GEMM shape, filled with seeded values in [−1, 1).</summary>
public sealed class GemmOperands : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly GemmShape _shape;
    private readonly DeviceBuffer<float> _a, _b, _c;

    public GemmOperands(Backend<float> backend, GemmShape shape)
    {
        _backend = backend;
        _shape = shape;
        var random = new Random(42);
        float[] Values(long length) => Enumerable.Range(0, checked((int)length)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        _a = backend.Allocate<float>(Values((long)shape.M * shape.K));
        _b = backend.Allocate<float>(Values((long)shape.K * shape.N));
        _c = backend.Allocate<float>(new float[(long)shape.M * shape.N]);
    }

    /// <summary>One GEMM call (asynchronous on a GPU: call Synchronize to wait).</summary>
    public void Run() => _backend.Gemm(_shape.TransA, _shape.TransB, _shape.M, _shape.N, _shape.K, 1f, _a.View, _b.View, _shape.Beta, _c.View);

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }
}
