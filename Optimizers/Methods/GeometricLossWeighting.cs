using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// GLS, the geometric loss strategy (Chennupati et al. 2019, MultiNet++; LibMTL's <c>GLS</c>): the objective is the
/// geometric mean of the task losses, L = (Πᵢ Lᵢ)^{1/T}. Its gradient is Σᵢ (∂L/∂Lᵢ)∇Lᵢ with ∂L/∂Lᵢ = L/(T·Lᵢ), so
/// the step's weighted sum Σ λᵢLᵢ with λᵢ = L/(T·Lᵢ), recomputed every step on the device from the batch losses, has
/// exactly that gradient (the weights are constants of the backward, as the product rule makes them). Every weighted
/// loss λᵢLᵢ equals L/T, and rescaling one loss by c rescales the whole objective by c^{1/T}: the direction does not
/// depend on the losses' scales. Losses are clamped below at min-loss (a task without a label in the batch has Lᵢ = 0:
/// then L collapses towards 0 for that step, as the product does). Maths: docs/maths.md §18.3. Kernel:
/// <see cref="Backend{T}.GeometricMeanWeights"/>.
/// </summary>
public sealed class GeometricLossWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _minLoss;

    /// <summary>GLS for <paramref name="tasks"/> tasks; equal weights 1/T (the value for equal losses) until the first update.</summary>
    public GeometricLossWeighting(Backend<T> backend, int tasks, double minLoss = 1e-8) : base(backend, tasks)
    {
        if (!(minLoss > 0) || !double.IsFinite(minLoss)) throw new ArgumentOutOfRangeException(nameof(minLoss), minLoss, "min-loss must be positive and finite.");
        _minLoss = T.CreateTruncating(minLoss);
        SetAll(1.0 / tasks);
    }

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.GeometricMeanWeights(taskLosses, _minLoss, Weights);
    }

    /// <summary>The registry entry <c>gls</c>.</summary>
    public static MethodDescriptor Method { get; } = new("gls",
        "geometric mean of the losses, (Π Lᵢ)^(1/T): every step λᵢ = L/(T·Lᵢ)", "Chennupati et al. 2019 (MultiNet++)", MethodNeeds.Losses,
        [MethodOption.Real("min-loss", 1e-8, "losses are clamped below at this", min: 0, minExclusive: true)],
        weighting: c => new GeometricLossWeighting<float>(c.Backend, c.Tasks, c.Arguments.Real("min-loss")));
}
