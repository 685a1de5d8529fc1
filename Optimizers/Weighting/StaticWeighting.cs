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
}
