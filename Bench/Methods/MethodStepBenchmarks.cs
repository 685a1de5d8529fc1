using BenchmarkDotNet.Attributes;
using Engine.Bench.Workloads;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Methods;

/// <summary>
/// The cost of one training step per method: the library's step (forward, backward — one per task when the method needs
/// the per-task gradients —, the method, clip at 1.0, Adam) on the small, medium and large workloads, CPU, float32, for
/// every registered method (<see cref="MethodRegistry"/>: a new method is benchmarked without an edit here), plus
/// <see cref="PerTaskPasses"/>, the step of a per-task-gradient method that does nothing but sum the rows. A method's
/// overhead is its step time over the time of the passes it needs by definition: the <c>sum</c> step (one forward, one
/// backward) for a loss weighting; for a per-task-gradient method the <c>sum</c> step scaled by
/// <see cref="Workload.Flops"/>(PcGrad) / Flops(Sum) (the forward and the T trunk backwards, as README's PCGrad overhead),
/// or, measured, <see cref="PerTaskPasses"/>. MemoryDiagnoser shows that a warm step allocates nothing, whatever the
/// method. Threads: ENGINE_BENCH_THREADS (default 2); workloads: ENGINE_BENCH_WORKLOADS (comma-separated, default all
/// three); methods: ENGINE_BENCH_METHODS (comma-separated, default every registered one).
/// <code>dotnet run -c Release --project Bench -- --filter '*MethodStepBenchmarks*' --job short</code>
/// </summary>
[MemoryDiagnoser]
public class MethodStepBenchmarks
{
    /// <summary>The baseline of the per-task-gradient methods: the stacked per-task backward of the shared parameters,
    /// then their plain weighted sum Σ λᵢgᵢ (<see cref="SumCombiner{T}"/> on the T rows) — what every such method
    /// computes before its own work. Registered for this benchmark only.</summary>
    public static MethodDescriptor PerTaskPasses { get; } = new("per-task-passes",
        "benchmark baseline: the per-task gradients of the shared parameters, summed (no method)", "—",
        MethodNeeds.SharedGradients, [], gradient: c => new SumCombiner<float>(c.Backend));

    private CpuBackend<float> _backend = null!;
    private IStepRunner _step = null!;

    static MethodStepBenchmarks()
    {
        if (!MethodRegistry.Contains(PerTaskPasses.Name)) MethodRegistry.Register(PerTaskPasses);
    }

    /// <summary>Every registered method's name (the baseline <see cref="PerTaskPasses"/> among them), or those named in
    /// ENGINE_BENCH_METHODS (comma-separated).</summary>
    public static IEnumerable<string> Methods =>
        Environment.GetEnvironmentVariable("ENGINE_BENCH_METHODS") is { Length: > 0 } names
            ? names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : MethodRegistry.All.Select(m => m.Name);

    /// <summary>The workloads: ENGINE_BENCH_WORKLOADS, or small, medium and large.</summary>
    public static IEnumerable<string> Workloads =>
        Environment.GetEnvironmentVariable("ENGINE_BENCH_WORKLOADS") is { Length: > 0 } names
            ? names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : Bench.Workloads.Workload.All.Select(w => w.Name);

    /// <summary>The method (<c>--method</c>).</summary>
    [ParamsSource(nameof(Methods))]
    public string Algorithm { get; set; } = "sum";

    /// <summary>small (two regression heads), medium (a regression and two classification heads) or large (two of each);
    /// see <see cref="Workload"/>. The accuracy weighting needs every task to be a classification: it is refused on all
    /// three, and BenchmarkDotNet reports those cases as failed.</summary>
    [ParamsSource(nameof(Workloads))]
    public string Workload { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        int threads = int.TryParse(Environment.GetEnvironmentVariable("ENGINE_BENCH_THREADS"), out int t) ? t : 2;
        _backend = new CpuBackend<float>(threads);
        _step = EngineStep.Create(Bench.Workloads.Workload.Named(Workload), StepVariant.Sum, _backend, method: Algorithm);
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
