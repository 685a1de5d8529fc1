using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// MGDA (Désidéri 2012; as used by Sener &amp; Koltun 2018): the min-norm point of the convex hull of the (weighted) task
/// gradients of the shared parameters, <c>min_{α ∈ Δ} ‖Σᵢ αᵢgᵢ‖²</c>, solved on the Gram matrix by Frank–Wolfe with away
/// steps and exact line search (for two tasks this reaches the closed form α₁ = clip((G₂₂ − G₁₂)/(G₁₁ + G₂₂ − 2G₁₂), 0, 1)
/// in one step). The result is the min-norm point itself (not rescaled). This runs on the parameters' gradients; Sener &amp;
/// Koltun's "UB" variant solves the same problem on the gradients with respect to the shared representation
/// (<c>mgda-ub</c>). See docs/maths.md §14.5.
/// </summary>
public sealed class MgdaCombiner<T>(Backend<T> backend, int maxIterations = 1000, double tolerance = 1e-12)
    : GradientCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override CombinationSettings Settings { get; } =
        new(CombinationMethod.Mgda, MaxIterations: maxIterations, Tolerance: tolerance);

    /// <summary>The registry entry <c>mgda</c>.</summary>
    public static MethodDescriptor Method { get; } = new("mgda",
        "min-norm point of the convex hull of the task gradients of the shared parameters (Frank–Wolfe, float64, on the device)",
        "Désidéri 2012; Sener & Koltun 2018", MethodNeeds.SharedGradients, [SolverOptions.MaxIterations, SolverOptions.Tolerance],
        gradient: c => new MgdaCombiner<float>(c.Backend, c.Arguments.Integer("max-iterations"), c.Arguments.Real("tolerance")));
}

/// <summary>The options every Frank–Wolfe-based method shares.</summary>
public static class SolverOptions
{
    /// <summary><c>max-iterations</c>: the most Frank–Wolfe iterations per step.</summary>
    public static MethodOption MaxIterations { get; } =
        MethodOption.Integer("max-iterations", 1000, "the most solver iterations per step", min: 1);

    /// <summary><c>tolerance</c>: the relative duality gap at which the solver stops.</summary>
    public static MethodOption Tolerance { get; } =
        MethodOption.Real("tolerance", 1e-12, "stop once the duality gap is at most tolerance × the scale of the Gram matrix", min: 0);
}
