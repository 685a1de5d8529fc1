using BenchmarkDotNet.Attributes;
using Engine.Bench.Workloads;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Methods;

/// <summary>
/// The cost of one training step per method: the library's step (forward, backward — one per task when the method needs
/// the per-task gradients —, the method, clip at 1.0, Adam) on the small and medium workloads, CPU, float32, for every
/// registered method (<see cref="MethodRegistry"/>: a new method is benchmarked without an edit here). MemoryDiagnoser
/// shows that a warm step allocates nothing, whatever the method. Threads: ENGINE_BENCH_THREADS (default 2).
/// <code>dotnet run -c Release --project Bench -- --filter '*MethodStepBenchmarks*' --job short</code>
/// </summary>
[MemoryDiagnoser]
public class MethodStepBenchmarks
{
    private CpuBackend<float> _backend = null!;
    private IStepRunner _step = null!;

    /// <summary>Every registered method's name.</summary>
    public static IEnumerable<string> Methods => MethodRegistry.All.Select(m => m.Name);

    /// <summary>The method (<c>--method</c>).</summary>
    [ParamsSource(nameof(Methods))]
    public string Algorithm { get; set; } = "sum";

    /// <summary>small (two regression heads) or medium (a regression and two classification heads); see
    /// <see cref="Workload"/>. The accuracy weighting needs every task to be a classification: it is refused on both, and
    /// BenchmarkDotNet reports those two cases as failed.</summary>
    [Params("small", "medium")]
    public string Workload { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        int threads = int.TryParse(Environment.GetEnvironmentVariable("ENGINE_BENCH_THREADS"), out int t) ? t : 2;
        _backend = new CpuBackend<float>(threads);
        _step = EngineStep.Create(Workloads.Workload.Named(Workload), StepVariant.Sum, _backend, method: Algorithm);
        _step.Run();
        _step.Run();
    }

    /// <summary>One step.</summary>
    [Benchmark]
    public void Step() => _step.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _step.Dispose();
        _backend.Dispose();
    }
}
