using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>An optimizer over a <see cref="FlatParameters{T}"/> model, independent of its element type.</summary>
public interface IOptimizer : IDisposable
{
    /// <summary>Applies one step to every parameter group: a fixed sequence of launches, no host read, no allocation.</summary>
    void Step();

    /// <summary>Number of <see cref="Step"/> calls so far (skipped steps included); the schedule's step index.</summary>
    long StepsTaken { get; }

    /// <summary>The parameter groups, in the order their kernels are launched.</summary>
    IReadOnlyList<ParameterGroupInfo> Groups { get; }

    /// <summary>The learning rate group <paramref name="group"/> will use at the next <see cref="Step"/> (schedule applied).</summary>
    double CurrentLearningRate(int group = 0);
}

/// <summary>An optimizer whose state lives on a <see cref="Backend{T}"/> and can be saved and restored exactly.</summary>
public interface IOptimizer<T> : IOptimizer where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The step-control block the clipper writes and the kernels read.</summary>
    StepControlBlock<T> Control { get; }

    /// <summary>Copies the state (moment buffers per parameter, step counters) to the host.</summary>
    OptimizerState<T> SaveState();

    /// <summary>Restores a state saved by <see cref="SaveState"/>; throws naming the first missing, unknown
    /// or mis-sized entry (nothing is changed then).</summary>
    void LoadState(OptimizerState<T> state);
}
