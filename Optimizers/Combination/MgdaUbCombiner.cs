using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// MGDA-UB (Sener &amp; Koltun 2018): the min-norm point of the convex hull of the (weighted) task gradients,
/// <c>min_{α ∈ Δ} ‖Σᵢ αᵢgᵢ‖²</c>, solved on the Gram matrix by Frank–Wolfe with away steps and exact line search
/// (for two tasks this reaches the closed form α₁ = clip((G₂₂ − G₁₂)/(G₁₁ + G₂₂ − 2G₁₂), 0, 1) in one step).
/// The result is the min-norm point itself (not rescaled). It is applied to the gradients of the shared parameters, which
/// is the exact MGDA problem; the paper's "UB" variant solves the same problem on the gradients with respect to the shared
/// representation (the trunk's output: one backward pass, an upper bound). See docs/maths.md, "MGDA-UB".
/// </summary>
public sealed class MgdaUbCombiner<T>(Backend<T> backend, int maxIterations = 1000, double tolerance = 1e-12)
    : GradientCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public override CombinationSettings Settings { get; } =
        new(CombinationMethod.MgdaUb, MaxIterations: maxIterations, Tolerance: tolerance);
}
