using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// GradVac, gradient vaccine (Wang et al. 2021, "Gradient Vaccine", ICLR; LibMTL <c>GradVac</c> at whole-model
/// granularity): PCGrad's loop with adaptive targets — for each task i and each other task j (seeded random order), when
/// the cosine ρ of the partly corrected g̃ᵢ' with the original g̃ⱼ is below the pair's target φ̂ᵢⱼ, add the multiple of
/// g̃ⱼ that raises it to φ̂ᵢⱼ exactly; the targets are exponential moving averages of the observed cosines,
/// φ̂ ← (1 − β)φ̂ + βρ (option <c>beta</c>, 0.5 as LibMTL), starting at 0 (so the first step is PCGrad); the update is
/// Σᵢ g̃ᵢ'. One float64 single-thread solve on the Gram matrix (<see cref="Backend{T}.GradVacCoefficients"/>,
/// <see cref="GradVacSolver"/>), the targets kept in its device workspace between steps: no host read.
/// <b>Deviations:</b> LibMTL adds 1e-8 to the denominators of ρ and of the correction (not scale-invariant); here a zero
/// norm gives ρ = 0 and no correction instead. Only the whole-model granularity (LibMTL's default <c>group_type</c> 0;
/// the paper applies it per layer as well). Resuming restarts the targets at 0 and the order's step index at 0.
/// Maths: docs/maths.md §18.9.
/// </summary>
public sealed class GradVacCombiner<T>(Backend<T> backend, double beta = 0.5, int seed = 0) : GramCombiner<T>(backend)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The EMA rate β of the targets, in [0, 1].</summary>
    public double Beta { get; } = beta is >= 0 and <= 1 ? beta : throw new ArgumentOutOfRangeException(nameof(beta), beta, "GradVac's beta must lie in [0, 1].");

    /// <summary>The seed of the order of the other tasks.</summary>
    public int Seed { get; } = seed;

    /// <summary>Steps combined so far (the next step's order depends on it).</summary>
    public long Steps { get; private set; }

    /// <summary>The order key of step <paramref name="step"/> (PCGrad's shuffle, <see cref="CombinationSolver.PcGradOrder"/>,
    /// from a stream apart).</summary>
    public static uint RandomKey(int seed, long step) => PcGradCombiner<T>.RandomKey(seed ^ 0x47564143, step);   // "GVAC"

    /// <summary>The targets φ̂ (T × T, row i column j, on the device) after the last step.</summary>
    public View<double> Targets(int tasks) => Workspace.Slice(GradVacSolver.TargetsOffset(tasks), tasks * tasks);

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => GradVacSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void ScratchAllocated(int tasks, View<double> workspace) =>
        Backend.Upload<double>(new double[tasks * tasks], workspace.Slice(GradVacSolver.TargetsOffset(tasks), tasks * tasks));

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.GradVacCoefficients(gram, tasks, taskWeights, Beta, RandomKey(Seed, Steps++), workspace, coefficients);

    /// <summary>The registry entry <c>gradvac</c>.</summary>
    public static MethodDescriptor Method { get; } = new("gradvac",
        "raise each pair's gradient cosine to an EMA target by adding the other's gradient (PCGrad with adaptive targets), then sum",
        "Wang et al. 2021 (Gradient Vaccine)", MethodNeeds.SharedGradients,
        [MethodOption.Real("beta", 0.5, "EMA rate of the cosine targets (LibMTL's GradVac_beta)", 0, 1)],
        gradient: c => new GradVacCombiner<float>(c.Backend, c.Arguments.Real("beta"), c.Seed));
}
