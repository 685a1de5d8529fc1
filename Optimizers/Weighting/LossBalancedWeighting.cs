using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Loss-balanced weights, recomputed every step on the device from the task losses:
/// <c>wᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ)</c> (for two tasks <c>w_A = L_B/(L_A + L_B)</c>), so each weighted loss wᵢLᵢ is the same
/// (the harmonic-mean share). Losses are clamped below at minLoss. Equal weights 1/T until the first update.
/// Kernel: <see cref="Backend{T}.LossBalancedWeights"/>.
/// </summary>
public sealed class LossBalancedWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _minLoss;

    public LossBalancedWeighting(Backend<T> backend, int tasks, double minLoss = 1e-8) : base(backend, tasks)
    {
        if (!(minLoss > 0) || !double.IsFinite(minLoss)) throw new ArgumentOutOfRangeException(nameof(minLoss), minLoss, "minLoss must be positive.");
        _minLoss = T.CreateTruncating(minLoss);
        SetAll(1.0 / tasks);
    }

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.LossBalancedWeights(taskLosses, _minLoss, Weights);
    }

    /// <summary>The registry entry <c>loss-balanced</c>.</summary>
    public static MethodDescriptor Method { get; } = new("loss-balanced",
        "every step λᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ), so every weighted loss is the same", "—", MethodNeeds.Losses,
        [MethodOption.Real("min-loss", 1e-8, "losses are clamped below at this", min: 0, minExclusive: true)],
        weighting: c => new LossBalancedWeighting<float>(c.Backend, c.Tasks, c.Arguments.Real("min-loss")));
}
