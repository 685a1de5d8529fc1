namespace Engine.Bench.Workloads;

/// <summary>One training step of a workload, ready to run again and again (set up once, warm after a step or two).</summary>
public interface IStepRunner : IDisposable
{
    /// <summary>What runs the step (e.g. "Engine.TrainingStep", or the autodiff/optimizer parts driven directly).</summary>
    string Implementation { get; }

    /// <summary>Runs one step: forward, backward, clip at 1.0, Adam. Synchronous: returns when the work is done.</summary>
    void Run();
}
