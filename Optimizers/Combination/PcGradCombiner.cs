using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"). For each task i, the other tasks j are visited in
/// a random order; when the (already partly projected) gᵢ' conflicts with the ORIGINAL gⱼ (gᵢ'·gⱼ &lt; 0) it is
/// projected: gᵢ' ← gᵢ' − (gᵢ'·gⱼ/‖gⱼ‖²)·gⱼ. Then Σᵢ gᵢ' (<see cref="PcGradReduction.Sum"/>, the paper's choice) or the
/// mean. Zero-norm guard: a gⱼ with ‖gⱼ‖² ≤ 1e-20 is never projected against. The order is drawn on the device from a
/// key derived from <paramref name="seed"/> and the step count, so a run with the same seed is reproducible.
/// </summary>
public sealed class PcGradCombiner<T>(Backend<T> backend, int seed = 0, PcGradReduction reduction = PcGradReduction.Sum)
    : GradientCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The seed of the projection order.</summary>
    public int Seed { get; } = seed;

    /// <summary>Sum or mean of the projected gradients.</summary>
    public PcGradReduction Reduction { get; } = reduction;

    /// <summary>Steps combined so far (the next step's order depends on it).</summary>
    public long Step { get; private set; }

    /// <inheritdoc/>
    public override CombinationSettings Settings => new(CombinationMethod.PcGrad, Reduction);

    /// <summary>The random key of step <paramref name="step"/> for <paramref name="seed"/> (see <see cref="CombinationSolver.PcGradOrder"/>).</summary>
    public static uint RandomKey(int seed, long step) => CombinationSolver.StepKey(seed, step);

    /// <inheritdoc/>
    protected override uint NextRandomKey() => RandomKey(Seed, Step++);

    /// <summary>The registry entry <c>pcgrad</c>.</summary>
    public static MethodDescriptor Method { get; } = new("pcgrad",
        "project a task's gradient onto the normal plane of each conflicting other (random order), then sum",
        "Yu et al. 2020", MethodNeeds.SharedGradients,
        [MethodOption.Choice("reduction", "sum", "sum (the paper) or mean of the projected gradients", "sum", "mean")],
        gradient: c => new PcGradCombiner<float>(c.Backend, c.Seed, c.Arguments.Choice("reduction") == "mean" ? PcGradReduction.Mean : PcGradReduction.Sum));
}
