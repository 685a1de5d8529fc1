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

    /// <summary>The registry entry <c>cagrad</c>.</summary>
    public static MethodDescriptor Method { get; } = new("cagrad",
        "conflict-averse: maximise the worst task improvement within a ball of radius c·‖g₀‖ around the mean gradient g₀",
        "Liu et al. 2021", MethodNeeds.SharedGradients,
        [
            MethodOption.Real("c", 0.5, "the radius c (0: the mean gradient)", min: 0),
            MethodOption.Choice("rescale", "1", "the reference code's rescale: 0 none, 1 divide by 1 + c², 2 divide by 1 + c", "0", "1", "2"),
            SolverOptions.MaxIterations, SolverOptions.Tolerance,
        ],
        gradient: c => new CaGradCombiner<float>(c.Backend, c.Arguments.Real("c"), (CaGradRescale)int.Parse(c.Arguments.Choice("rescale"), System.Globalization.CultureInfo.InvariantCulture),
            c.Arguments.Integer("max-iterations"), c.Arguments.Real("tolerance")));
}
