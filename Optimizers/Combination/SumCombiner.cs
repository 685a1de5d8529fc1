using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>The weighted sum <c>Σᵢ wᵢgᵢ</c>: one <see cref="Backend{T}.LinearCombination"/> with the weights as the
/// coefficients (no Gram matrix needed).</summary>
public sealed class SumCombiner<T>(Backend<T> backend) : IGradientCombiner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The device the combiner runs on.</summary>
    public Backend<T> Backend { get; } = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc/>
    public void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        Check.Positive(tasks, nameof(tasks));
        Check.Length(taskWeights, tasks, nameof(taskWeights));
        if (taskGradients.Length != (long)tasks * output.Length)
            throw new ArgumentException(
                $"taskGradients has {taskGradients.Length} elements but must hold tasks × output.Length = {tasks} × {output.Length} = {(long)tasks * output.Length}.",
                nameof(taskGradients));
        Backend.LinearCombination(taskGradients, tasks, output.Length, taskWeights, output, accumulate: false);
    }

    /// <summary>The registry entry <c>sum</c>: with a loss weighting, the plain weighted sum Σ λᵢ∇Lᵢ. Needs no per-task
    /// gradients (the step backpropagates Σ λᵢLᵢ once).</summary>
    public static MethodDescriptor Method { get; } = new("sum",
        "the weighted sum Σ λᵢ∇Lᵢ (one backward pass)", "—", MethodNeeds.None, [],
        gradient: c => new SumCombiner<float>(c.Backend));
}
