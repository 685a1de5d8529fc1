using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// IMTL-G, the gradient half of impartial multi-task learning (Liu et al. 2021, "Towards Impartial Multi-task Learning",
/// ICLR; LibMTL <c>IMTL</c>): the combined gradient g = Σₜ αₜg̃ₜ of the weighted task gradients g̃ₜ = wₜgₜ, Σₜ αₜ = 1, whose
/// projections gᵀuₜ on every unit gradient uₜ = g̃ₜ/‖g̃ₜ‖ are equal, in closed form:
/// α₂..T = g̃₁Uᵀ(DUᵀ)⁻¹ with D = [g̃₁ − g̃ₜ], U = [u₁ − uₜ] (t = 2..T), α₁ = 1 − Σα. A step is the usual three launches
/// (Gram, a float64 single-thread solve on the device — <see cref="Backend{T}.ImtlCoefficients"/>, <see cref="ImtlSolver"/> —
/// and the linear combination); no host read. With <c>imtl-l</c> (<see cref="ImtlLossWeighting{T}"/>) as its weighting the
/// g̃ₜ are e^{sₜ}∇Lₜ, which is IMTL-H, the preset <c>imtl</c>. <b>Deviation:</b> the paper applies IMTL-G to the gradients
/// with respect to the shared representation z and LibMTL, by default, to those of the shared parameters; here it runs on
/// the shared parameters (as LibMTL's default). Degenerate cases (zero gradients, two equal unit gradients) are guarded,
/// see <see cref="ImtlSolver"/>. Maths: docs/maths.md §18.6.
/// </summary>
public sealed class ImtlCombiner<T>(Backend<T> backend) : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => ImtlSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.ImtlCoefficients(gram, tasks, taskWeights, workspace, coefficients);

    private const string Paper = "Liu et al. 2021 (Towards Impartial Multi-task Learning)";

    /// <summary>The registry entry <c>imtl-g</c> (IMTL-G alone).</summary>
    public static MethodDescriptor Method { get; } = new("imtl-g",
        "IMTL-G: the combination Σαₜgₜ, Σα = 1, with equal projections on every task's unit gradient (closed form, float64, on the device)",
        Paper, MethodNeeds.SharedGradients, [], gradient: c => new ImtlCombiner<float>(c.Backend));

    /// <summary>The preset <c>imtl</c>: IMTL-H (both halves, LibMTL's <c>IMTL</c>) by default; <c>variant=l</c> or
    /// <c>variant=g</c> for one half.</summary>
    public static MethodDescriptor Preset { get; } = new("imtl",
        "IMTL: variant h = IMTL-H (imtl-l+imtl-g, LibMTL's IMTL), l = IMTL-L only (imtl-l), g = IMTL-G only (imtl-g)",
        Paper, MethodNeeds.None,
        [MethodOption.Choice("variant", "h", "h: learned loss scales and impartial gradient (LibMTL); l: loss scales only; g: gradient only", "h", "l", "g")],
        preset: a => a.Choice("variant") switch { "l" => "imtl-l", "g" => "imtl-g", _ => "imtl-l+imtl-g" });
}

/// <summary>
/// IMTL-L, the loss half of IMTL (Liu et al. 2021; LibMTL <c>IMTL</c>'s <c>loss_scale</c>): learned scales sₜ, the
/// objective Σₜ e^{sₜ}Lₜ − sₜ, so λₜ = e^{sₜ} and ∂/∂sₜ = e^{sₜ}Lₜ − 1 (the scaled losses e^{sₜ}Lₜ are driven to 1, i.e.
/// to equal values). It is uncertainty weighting's objective exp(−σ)L + σ with σ = −s, so it shares its kernel
/// (<see cref="Backend{T}.UncertaintyWeights"/> with sign +1), its learned-parameter plumbing (own optimizer of the
/// model's kind without weight decay, clipped with the model) and — like it — its sₜ and their optimizer state are saved
/// with the step's state (<c>optimizer.param.imtl.loss_scale</c>, <c>TrainingStep.SaveState</c>) and resumed. Initial sₜ: 0 as LibMTL (option <c>init</c>).
/// </summary>
public sealed class ImtlLossWeighting<T> : UncertaintyWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Registers the scales sₜ (shape [tasks]) as <c>imtl.loss_scale</c> in <paramref name="parameters"/> (not yet allocated).</summary>
    public ImtlLossWeighting(Backend<T> backend, FlatParameters<T> parameters, int tasks, double initialScale = 0)
        : base(backend, parameters, tasks, "imtl.loss_scale", initialScale, sign: 1)
    {
    }

    /// <summary>The learned scales sₜ (a view of the flat parameter buffer; λₜ = e^{sₜ}).</summary>
    public View<T> LossScales => LogVariances;

    /// <summary>The registry entry <c>imtl-l</c>.</summary>
    public static new MethodDescriptor Method { get; } = new("imtl-l",
        "IMTL-L: learned loss scales sₜ, loss Σ e^(sₜ)Lₜ − sₜ, λₜ = e^(sₜ)", "Liu et al. 2021 (Towards Impartial Multi-task Learning)",
        MethodNeeds.Losses | MethodNeeds.LearnedParameters,
        [MethodOption.Real("init", 0, "the initial scale sₜ (LibMTL: 0, weight 1)")],
        weighting: c => new ImtlLossWeighting<float>(c.Backend,
            c.LearnedParameters ?? throw new ArgumentException("imtl-l needs MethodContext.LearnedParameters.", nameof(c)),
            c.Tasks, c.Arguments.Real("init")));
}
