using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>Fixed weights λᵢ (finite, ≥ 0), uploaded once.</summary>
public sealed class StaticWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public StaticWeighting(Backend<T> backend, params double[] weights) : base(backend, weights?.Length ?? 0)
    {
        CheckPerTask(weights, nameof(weights));
        foreach (double w in weights!)
            if (w < 0) throw new ArgumentOutOfRangeException(nameof(weights), w, "Task weights must be ≥ 0.");
        SetWeights(weights);
    }

    /// <summary>The registry entry <c>static</c>: λᵢ = the head's loss weight.</summary>
    public static MethodDescriptor Method { get; } = new("static",
        "fixed weights λᵢ, the heads' loss weights (--task-weight)", "—", MethodNeeds.None, [],
        weighting: c => new StaticWeighting<float>(c.Backend, [.. c.LossWeights]));

    /// <summary>The registry entry <c>equal</c> (LibMTL's EW): λᵢ = 1 whatever the heads' loss weights.</summary>
    public static MethodDescriptor EqualMethod { get; } = new("equal",
        "equal weights λᵢ = 1 (LibMTL's EW)", "—", MethodNeeds.None, [],
        weighting: c => new StaticWeighting<float>(c.Backend, Enumerable.Repeat(1.0, c.Tasks).ToArray()));
}
