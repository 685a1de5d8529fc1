using Engine.Kernels;

namespace Engine.Bench.Workloads;

/// <summary>The library's own training step (Engine.TrainingStep) on a workload.</summary>
public static class EngineStep
{
    /// <summary>Until Engine.TrainingStep lands, this falls back to <see cref="DirectStep"/> (same sequence).</summary>
    public static IStepRunner Create(Workload workload, StepVariant variant, Backend<float> backend) =>
        new DirectStep(workload, variant, backend);
}
