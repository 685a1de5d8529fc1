using BenchmarkDotNet.Attributes;
using Engine.Kernels.Cpu;

namespace Engine.Bench.Workloads;

/// <summary>
/// One training step (forward, backward, clip at 1.0, Adam) of each workload and variant on the CPU, float32, with
/// the library's own step ("engine") and, for the PCGrad variant, the same step with one routed backward per task
/// instead of the stacked trunk pass ("separate") — the ablation of Tape.BackwardPerTask. MemoryDiagnoser shows that
/// a warm step allocates nothing. Threads: ENGINE_BENCH_THREADS (default 2, the peer comparison's setting).
/// <code>dotnet run -c Release --project Bench -- --filter '*TrainingStepBenchmarks*' --job short</code>
/// </summary>
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    private CpuBackend<float> _backend = null!;
    private IStepRunner _step = null!;

    /// <summary>small, medium or large (see <see cref="Workload"/>).</summary>
    [Params("small", "medium", "large")]
    public string Workload { get; set; } = "small";

    /// <summary>Sum of the losses, or PCGrad on the trunk.</summary>
    [Params(StepVariant.Sum, StepVariant.PcGrad)]
    public StepVariant Variant { get; set; }

    /// <summary>"engine" (the library's step) or "separate" (one routed backward per task).</summary>
    [Params("engine", "separate")]
    public string Implementation { get; set; } = "engine";

    [GlobalSetup]
    public void Setup()
    {
        int threads = int.TryParse(Environment.GetEnvironmentVariable("ENGINE_BENCH_THREADS"), out int t) ? t : 2;
        _backend = new CpuBackend<float>(threads);
        _step = StepFactory.Create(Implementation, Workloads.Workload.Named(Workload), Variant, _backend);
        _step.Run();
        _step.Run();
    }

    /// <summary>One step. ("separate" only differs from "engine" for PCGrad; its Sum case is the same step.)</summary>
    [Benchmark]
    public void Step() => _step.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _step.Dispose();
        _backend.Dispose();
    }
}
