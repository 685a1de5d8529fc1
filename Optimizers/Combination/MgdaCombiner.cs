using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// MGDA (Désidéri 2012; as used by Sener &amp; Koltun 2018): the min-norm point of the convex hull of the (weighted,
/// optionally normalised) task gradients of the shared parameters, <c>min_{α ∈ Δ} ‖Σᵢ αᵢg̃ᵢ‖²</c>, solved on the Gram
/// matrix by Frank–Wolfe with away steps and exact line search (for two tasks this reaches the closed form
/// α₁ = clip((G₂₂ − G₁₂)/(G₁₁ + G₂₂ − 2G₁₂), 0, 1) in one step). The result is the min-norm point itself (not rescaled).
/// <para>Normalisation (Sener &amp; Koltun's <c>gradient_normalizers</c>, LibMTL's <c>mgda_gn</c>): g̃ᵢ = wᵢgᵢ/cᵢ with
/// cᵢ = 1 (<c>none</c>, the default), ‖gᵢ‖ (<c>l2</c>), Lᵢ (<c>loss</c>) or Lᵢ‖gᵢ‖ (<c>loss+</c>); as LibMTL, the
/// min-norm weights are applied to the normalised gradients, the result is Σ αᵢg̃ᵢ (Sener &amp; Koltun's own training
/// script applies them to the raw losses instead). On the device: one more single-thread launch
/// (<see cref="Backend{T}.MgdaNormalizedWeights"/>) turns w into w/c before the usual solve; no host read.</para>
/// This runs on the parameters' gradients; Sener &amp; Koltun's "UB" variant solves the same problem on the gradients
/// with respect to the shared representation. See docs/maths.md §14.5 and §18.16.
/// </summary>
public sealed class MgdaCombiner<T> : GradientCombiner<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MgdaNormalization _normalization;
    private readonly View<T> _losses;
    private DeviceBuffer<T>? _normalized;

    /// <summary>MGDA; with a normalisation other than <see cref="MgdaNormalization.None"/>, <paramref name="losses"/> is the
    /// step's task-loss vector (T, on the device, rewritten before every <see cref="GramCombiner{T}.Combine"/>).</summary>
    public MgdaCombiner(Backend<T> backend, int maxIterations = 1000, double tolerance = 1e-12,
        MgdaNormalization normalization = MgdaNormalization.None, View<T> losses = default) : base(backend)
    {
        if (!Check.IsDefined(normalization)) throw new ArgumentOutOfRangeException(nameof(normalization), normalization, "Unknown MGDA normalization.");
        if (normalization is MgdaNormalization.Loss or MgdaNormalization.LossPlus && losses.IsEmpty)
            throw new ArgumentException($"MGDA normalization {normalization} needs the task losses.", nameof(losses));
        Settings = new(CombinationMethod.Mgda, MaxIterations: maxIterations, Tolerance: tolerance);
        _normalization = normalization;
        _losses = losses;
    }

    /// <inheritdoc/>
    public override CombinationSettings Settings { get; }

    /// <inheritdoc/>
    protected override void ScratchAllocated(int tasks, View<double> workspace)
    {
        if (_normalization != MgdaNormalization.None) _normalized = Backend.Allocate<T>(tasks);
    }

    /// <inheritdoc/>
    protected override void ScratchReleased()
    {
        _normalized?.Dispose();
        _normalized = null;
    }

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients)
    {
        if (_normalized is null)
        {
            base.SolveCoefficients(gram, tasks, taskWeights, workspace, coefficients);
            return;
        }
        // Without losses (l2) the gram's own view stands in for the unread loss operand.
        Backend.MgdaNormalizedWeights(gram, tasks, _losses.IsEmpty ? taskWeights : _losses, taskWeights, _normalization, _normalized.View);
        base.SolveCoefficients(gram, tasks, _normalized.View, workspace, coefficients);
    }

    /// <summary>The <c>normalization</c> option (Sener &amp; Koltun's <c>gradient_normalizers</c>).</summary>
    public static MethodOption NormalizationOption { get; } = MethodOption.Choice("normalization", "none",
        "divide each task gradient by 1, ‖gᵢ‖, Lᵢ or Lᵢ‖gᵢ‖ before the min-norm solve (Sener & Koltun; LibMTL mgda_gn)",
        "none", "l2", "loss", "loss+");

    /// <summary>The option's value as the enum.</summary>
    public static MgdaNormalization ParseNormalization(string value) => value switch
    {
        "l2" => MgdaNormalization.L2,
        "loss" => MgdaNormalization.Loss,
        "loss+" => MgdaNormalization.LossPlus,
        _ => MgdaNormalization.None,
    };

    /// <summary>The registry entry <c>mgda</c>.</summary>
    public static MethodDescriptor Method { get; } = new("mgda",
        "min-norm point of the convex hull of the (optionally normalised) task gradients of the shared parameters (Frank–Wolfe, float64, on the device)",
        "Désidéri 2012; Sener & Koltun 2018", MethodNeeds.SharedGradients | MethodNeeds.Losses,
        [SolverOptions.MaxIterations, SolverOptions.Tolerance, NormalizationOption],
        gradient: c => new MgdaCombiner<float>(c.Backend, c.Arguments.Integer("max-iterations"), c.Arguments.Real("tolerance"),
            ParseNormalization(c.Arguments.Choice("normalization")), c.Losses));
    /// <summary>The registry entry <c>mgda-ub</c> (Sener &amp; Koltun 2018 §3.3): the same min-norm solve on the T per-task
    /// gradients of the shared representation Z (flattened B·width), whose combination Σ aᵢ∂Lᵢ/∂Z is backpropagated through
    /// the shared part once (<c>TrainingStep</c>, <see cref="MethodNeeds.RepresentationGradients"/>); docs/maths.md §18.16.</summary>
    public static MethodDescriptor UpperBound { get; } = new("mgda-ub",
        "MGDA-UB: min-norm point of the hull of the task gradients of the shared representation Z, then one shared backward (Frank–Wolfe, float64, on the device)",
        "Sener & Koltun 2018", MethodNeeds.RepresentationGradients | MethodNeeds.Losses,
        [SolverOptions.MaxIterations, SolverOptions.Tolerance, NormalizationOption],
        gradient: c => new MgdaCombiner<float>(c.Backend, c.Arguments.Integer("max-iterations"), c.Arguments.Real("tolerance"),
            ParseNormalization(c.Arguments.Choice("normalization")), c.Losses));
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
