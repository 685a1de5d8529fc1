using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Orthogonal projection, applied always (conflict or not): every task's gradient except the reference task's is
/// replaced by its component orthogonal to the reference gradient, <c>g_B' = g_B − (g_A·g_B/‖g_A‖²)·g_A</c>
/// (A = the reference, nothing projected when ‖g_A‖ is zero), and the weighted results are summed.
/// With two tasks and <paramref name="referenceTask"/> 0, task 0 is A (the primary task, kept as is) and task 1 is B.
/// With T &gt; 2 every other task is projected against the same reference (not against each other).
/// </summary>
public sealed class ProjectionCombiner<T>(Backend<T> backend, int referenceTask = 0)
    : GradientCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The task whose gradient the others are made orthogonal to.</summary>
    public int ReferenceTask { get; } = referenceTask >= 0 ? referenceTask
        : throw new ArgumentOutOfRangeException(nameof(referenceTask), referenceTask, "referenceTask must not be negative.");

    /// <inheritdoc/>
    public override CombinationSettings Settings => new(CombinationMethod.Projection, ReferenceTask: ReferenceTask);

    /// <summary>The registry entry <c>projection</c>.</summary>
    public static MethodDescriptor Method { get; } = new("projection",
        "every other task's gradient made orthogonal to the reference task's (always), then the weighted sum",
        "—", MethodNeeds.SharedGradients,
        [MethodOption.Task("reference", "the task the others are made orthogonal to")],
        gradient: c => new ProjectionCombiner<float>(c.Backend, c.Arguments.Task("reference")));
}
