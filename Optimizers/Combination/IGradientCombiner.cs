using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Combines the per-task gradients of the shared parameters into one gradient. Only the shared trunk goes through a
/// combiner; each head keeps its own gradient. The per-task gradients are the gradients of the UNWEIGHTED task losses;
/// the combiner applies the task weights (every method acts on the weighted gradients wᵢgᵢ).
/// </summary>
public interface IGradientCombiner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// <paramref name="output"/> (P) = the combination of the rows of <paramref name="taskGradients"/> (tasks × P,
    /// row i = ∇ of task i's loss w.r.t. the shared parameters), weighted by the device-resident
    /// <paramref name="taskWeights"/> (tasks). A fixed sequence of launches; no host round-trip, no allocation once the
    /// scratch for this task count exists.
    /// </summary>
    void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output);
}

/// <summary>A combiner whose <see cref="IGradientCombiner{T}.Combine"/> forms the Gram matrix of the task gradients it is
/// given (Gᵢⱼ = gᵢ·gⱼ of the unweighted rows, before anything changes them): the step's conflict diagnostics
/// (<see cref="GradientConflictMonitor{T}.Observe"/>) read it instead of a Gram pass of their own. The Gram-based
/// combiners (<see cref="GramCombiner{T}"/>) and MoCo, which needs ‖gᵢ‖² (the diagonal), are such combiners.</summary>
public interface ITaskGramCombiner<T> : IGradientCombiner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The Gram matrix of the last <see cref="IGradientCombiner{T}.Combine"/> (tasks × tasks, on the device).</summary>
    View<T> Gram { get; }
}
