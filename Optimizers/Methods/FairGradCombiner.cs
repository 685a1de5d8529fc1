using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// FairGrad (Ban &amp; Ji 2024, "Fair Resource Allocation in Multi-Task Learning", ICML; reference code OptMN-Lab/fairgrad,
/// LibMTL <c>FairGrad</c>): the tasks share the update d as a resource, task i's utility being g̃ᵢ·d, and d maximises the
/// α-fair sum Σᵢ (g̃ᵢ·d)^(1−α)/(1−α) (Σ log for α = 1) in a ball; then d = Σᵢ βᵢg̃ᵢ with β &gt; 0 solving G̃β = β^(−1/α)
/// (GᵀG β = β^(−1/α), the paper's equation; α = 1 is proportional fairness and Nash-MTL's G̃β = 1/β, α = 2 minimum
/// potential delay, α → ∞ max-min fairness; α → 0 utilitarian). β is found on the device in float64 by Newton's method on
/// the strictly convex ½βᵀG̃β − Σ φ(βᵢ) (φ' = b^(−1/α)), whose stationarity condition that equation is
/// (<see cref="Backend{T}.FairGradCoefficients"/>, <see cref="FairGradSolver"/>), in place of the reference's
/// <c>scipy.optimize.least_squares</c> from β = 1/T (which stops at its default tolerances, 1e-8). A step is three
/// launches (Gram, the solve, the linear combination); no host read.
/// <b>Deviations:</b> (1) the reference weights the losses by β, so its heads' gradients are scaled by βᵢ too; here, as
/// for every gradient method, only the shared gradient is combined and the heads keep their own. (2) Where no β exists
/// (Pareto-stationary: a non-negative combination of the gradients vanishes) the update is 0; the reference returns
/// whatever least_squares stopped at. (3) A zero-gradient task is left out (β = 0). Task weights scale the gradients
/// before the solve (g̃ᵢ = wᵢgᵢ). Maths: docs/maths.md §18.13.
/// </summary>
public sealed class FairGradCombiner<T>(Backend<T> backend, double alpha = 1.0, int maxIterations = 100)
    : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The fairness exponent α &gt; 0 (LibMTL's <c>FairGrad_alpha</c>, default 1).</summary>
    public double Alpha { get; } = alpha > 0 && double.IsFinite(alpha) ? alpha
        : throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "FairGrad's alpha must be finite and > 0.");

    /// <summary>The most Newton iterations per solve.</summary>
    public int MaxIterations { get; } = maxIterations > 0 ? maxIterations
        : throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "max-iterations must be positive.");

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => FairGradSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.FairGradCoefficients(gram, tasks, taskWeights, Alpha, MaxIterations, workspace, coefficients);

    /// <summary>The registry entry <c>fairgrad</c>.</summary>
    public static MethodDescriptor Method { get; } = new("fairgrad",
        "the α-fair direction Σβᵢgᵢ with GᵀGβ = β^(−1/α) (Newton's method, float64, on the device)",
        "Ban & Ji 2024 (Fair Resource Allocation in Multi-Task Learning)", MethodNeeds.SharedGradients,
        [
            MethodOption.Real("alpha", 1.0, "the fairness exponent α > 0 (1: proportional fairness, as Nash-MTL; 2: minimum potential delay; large: max-min)", min: 0, minExclusive: true),
            MethodOption.Integer("max-iterations", 100, "the most Newton iterations per solve (not converged: no solution, update 0)", min: 1),
        ],
        gradient: c => new FairGradCombiner<float>(c.Backend, c.Arguments.Real("alpha"), c.Arguments.Integer("max-iterations")));
}
