using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Nash-MTL (Navon et al. 2022, "Multi-Task Learning as a Bargaining Game", ICML; reference code AvivNavon/nash-mtl
/// <c>NashMTL</c>, LibMTL <c>Nash_MTL</c>): the tasks bargain over the update d, each with utility g̃ᵢ·d; the Nash
/// bargaining solution maximises Σᵢ log(g̃ᵢ·d) in a ball and is d = Σᵢ αᵢg̃ᵢ with α &gt; 0 solving G̃α = 1/α (the paper's
/// Claim 3.1; unique). α is found on the device in float64 by Newton's method on the strictly convex
/// ½αᵀG̃α − Σ log αᵢ, whose stationarity condition that equation is (<see cref="Backend{T}.NashMtlCoefficients"/>,
/// <see cref="NashMtlSolver"/>), in place of the reference's sequence of cvxpy/ECOS problems; then, as the reference,
/// the update is clipped to norm <c>max-norm</c> (1.0; 0 turns it off) and, with <c>update-every</c> k &gt; 1, α is solved
/// every k-th step and reused in between. A step is three launches (Gram, the solve, the linear combination); no host read.
/// <b>Deviations:</b> (1) the reference weights the losses by α, so its heads' gradients are scaled by αᵢ too; here, as
/// for every gradient method, only the shared gradient is combined and the heads keep their own. (2) Where no α exists
/// (a non-negative combination of the gradients vanishes: Pareto-stationary) the update is 0, the bargaining's
/// disagreement point; the reference keeps its previous α when ECOS fails. (3) A zero-gradient task is left out
/// (α = 0; the reference's problem is then infeasible). (4) With <c>update-every</c> the per-task gradients are still
/// computed every step (the reference skips them). The task weights only matter where they are 0: the solution is
/// scale-invariant (αᵢ ∝ 1/wᵢ). Maths: docs/maths.md §18.12.
/// </summary>
public sealed class NashMtlCombiner<T>(Backend<T> backend, double maxNorm = 1.0, int updateEvery = 1, int maxIterations = 100)
    : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The norm the update is clipped to (the reference's <c>max_norm</c>); 0: no clipping.</summary>
    public double MaxNorm { get; } = maxNorm >= 0 && double.IsFinite(maxNorm) ? maxNorm
        : throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Nash-MTL's max-norm must be finite and ≥ 0 (0: no clipping).");

    /// <summary>α is solved on every k-th step (the first included) and reused in between (the reference's <c>update_weights_every</c>).</summary>
    public int UpdateEvery { get; } = updateEvery > 0 ? updateEvery
        : throw new ArgumentOutOfRangeException(nameof(updateEvery), updateEvery, "update-every must be positive.");

    /// <summary>The most Newton iterations per solve.</summary>
    public int MaxIterations { get; } = maxIterations > 0 ? maxIterations
        : throw new ArgumentOutOfRangeException(nameof(maxIterations), maxIterations, "max-iterations must be positive.");

    /// <summary>Steps combined so far.</summary>
    public long Steps { get; private set; }

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => NashMtlSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void ScratchAllocated(int tasks, View<double> workspace)
    {
        Backend.Upload<double>(new double[tasks], workspace.Slice(NashMtlSolver.StateOffset(tasks), tasks));
        Steps = 0;
    }

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.NashMtlCoefficients(gram, tasks, taskWeights, MaxIterations, MaxNorm, Steps++ % UpdateEvery == 0, workspace, coefficients);

    /// <summary>The registry entry <c>nash-mtl</c>.</summary>
    public static MethodDescriptor Method { get; } = new("nash-mtl",
        "the Nash bargaining direction Σαᵢgᵢ with GᵀGα = 1/α (Newton's method, float64, on the device), clipped to max-norm",
        "Navon et al. 2022 (Multi-Task Learning as a Bargaining Game)", MethodNeeds.SharedGradients,
        [
            MethodOption.Real("max-norm", 1.0, "clip the update to this norm as the reference's clip_grad_norm_ (0: no clipping)", min: 0),
            MethodOption.Integer("update-every", 1, "solve α every k-th step and reuse it in between (the reference's update_weights_every)", min: 1),
            MethodOption.Integer("max-iterations", 100, "the most Newton iterations per solve (not converged: no solution, update 0)", min: 1),
        ],
        gradient: c => new NashMtlCombiner<float>(c.Backend, c.Arguments.Real("max-norm"), c.Arguments.Integer("update-every"),
            c.Arguments.Integer("max-iterations")));
}
