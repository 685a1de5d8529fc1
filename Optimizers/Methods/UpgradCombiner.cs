using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// UPGrad (Quinton &amp; Rey 2024, "Jacobian Descent for Multi-Objective Optimization"; torchjd <c>UPGrad</c>): each
/// weighted task gradient g̃ᵢ = wᵢgᵢ is projected onto the dual cone {d : g̃ⱼ·d ≥ 0 ∀j} of all of them, and the update is
/// the mean of the projections — so it never conflicts with any task (g̃ⱼ·update ≥ 0) and equals the mean when no pair
/// conflicts. Through the Gram matrix each projection is a T-dimensional QP, vᵢ = argmin_{v ≥ eᵢ/T} vᵀGv, solved in
/// float64 on the device (<see cref="Backend{T}.UpgradCoefficients"/>, <see cref="UpgradSolver"/>: Lawson–Hanson active
/// set) after torchjd's normalisation by the trace and its regularisation +εI (option <c>reg-eps</c>, 1e-4 as torchjd).
/// A step is three launches (Gram, the solve, the linear combination); no host read. <b>Deviations:</b> torchjd replaces a
/// Gram matrix of trace below <c>norm_eps</c> = 1e-4 by 0 (so small gradients give the plain mean): here only a zero
/// trace does (scale invariance); a preference vector other than the mean is not offered. Maths: docs/maths.md §18.8.
/// </summary>
public sealed class UpgradCombiner<T>(Backend<T> backend, double regularization = 1e-4, int maxIterations = 1000)
    : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>ε added to the diagonal of the trace-normalised Gram matrix.</summary>
    public double Regularization { get; } = regularization >= 0 && double.IsFinite(regularization) ? regularization
        : throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "UPGrad's reg-eps must be finite and ≥ 0.");

    /// <summary>The most active-set iterations per QP.</summary>
    public int MaxIterations { get; } = maxIterations > 0 ? maxIterations
        : throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "max-iterations must be positive.");

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => UpgradSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.UpgradCoefficients(gram, tasks, taskWeights, Regularization, MaxIterations, workspace, coefficients);

    /// <summary>The registry entry <c>upgrad</c>.</summary>
    public static MethodDescriptor Method { get; } = new("upgrad",
        "project every task gradient onto the dual cone of all of them (T small QPs, float64, on the device), then average",
        "Quinton & Rey 2024 (Jacobian descent)", MethodNeeds.SharedGradients,
        [
            MethodOption.Real("reg-eps", 1e-4, "ε added to the diagonal of the trace-normalised Gram matrix (torchjd's reg_eps)", min: 0),
            SolverOptions.MaxIterations,
        ],
        gradient: c => new UpgradCombiner<float>(c.Backend, c.Arguments.Real("reg-eps"), c.Arguments.Integer("max-iterations")));
}
