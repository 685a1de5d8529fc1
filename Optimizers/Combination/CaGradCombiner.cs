using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// CAGrad (Liu et al. 2021, "Conflict-Averse Gradient Descent for Multi-task Learning"): the update d maximises the
/// worst task improvement minᵢ gᵢ·d within the ball ‖d − g₀‖ ≤ c‖g₀‖ around the mean gradient g₀. Through its dual,
/// d = g₀ + (c‖g₀‖/‖g_w‖)·g_w with w = argmin_{w ∈ Δ} g_w·g₀ + c‖g₀‖·‖g_w‖, solved on the Gram matrix by
/// Frank–Wolfe with away steps and an exact (bisection) line search; then divided by 1 + c² (the reference code's
/// default rescale) unless <paramref name="rescale"/> says otherwise. c = 0 gives the mean gradient.
/// </summary>
public sealed class CaGradCombiner<T>(Backend<T> backend, double c = 0.5, CaGradRescale rescale = CaGradRescale.OnePlusCSquared,
    int maxIterations = 1000, double tolerance = 1e-12)
    : GradientCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The radius parameter c ≥ 0.</summary>
    public double C { get; } = c >= 0 && double.IsFinite(c) ? c
        : throw new ArgumentOutOfRangeException(nameof(c), c, "CAGrad's c must be finite and ≥ 0.");

    /// <inheritdoc/>
    public override CombinationSettings Settings { get; } =
        new(CombinationMethod.CaGrad, C: c, Rescale: rescale, MaxIterations: maxIterations, Tolerance: tolerance);
}
