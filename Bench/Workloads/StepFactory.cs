using Engine.Kernels;

namespace Engine.Bench.Workloads;

/// <summary>Builds the step runner the benchmarks time, by implementation name.</summary>
public static class StepFactory
{
    /// <summary>"engine": the library's own training step; "direct": the same sequence on the autodiff and
    /// optimizer parts (stacked per-task backward); "separate": direct, with one routed backward per task.</summary>
    public static IStepRunner Create(string implementation, Workload workload, StepVariant variant, Backend<float> backend) => implementation switch
    {
        "engine" => EngineStep.Create(workload, variant, backend),
        "direct" => new DirectStep(workload, variant, backend, PerTaskBackward.Stacked),
        "separate" => new DirectStep(workload, variant, backend, PerTaskBackward.Separate),
        _ => throw new ArgumentException($"Unknown implementation '{implementation}' (engine, direct, separate).", nameof(implementation)),
    };
}
