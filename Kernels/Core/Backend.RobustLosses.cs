namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Masked smooth-L1 loss, the kernel behind L1 and Huber regression (maths: docs/maths.md §19.5): with dᵢ = pᵢ − tᵢ
    /// over the n present (non-NaN) targets, <c>loss[0] = scale·(1/max(n, 1))·Σ sβ(dᵢ)</c>, sβ(d) = d²/(2β) for |d| &lt; β,
    /// |d| − β/2 otherwise. β = 0, scale = 1 is the L1 loss |d|; β = δ, scale = δ is PyTorch's Huber loss with δ.
    /// <c>count[0] = n</c>; a batch without a label gives 0.
    /// With per-row sample weights sᵣ (<paramref name="rowWeights"/> non-empty, one per row of the [rows × columns] prediction)
    /// the loss is the weighted mean <c>scale·Σ sᵣmᵢ sβ(dᵢ) / D</c>, D = Σ sᵣmᵢ written to <paramref name="weightSum"/>, 0 when
    /// D = 0; a row of weight 0 adds nothing, even where its prediction is not finite (maths §19.11).
    /// </summary>
    public abstract void MaskedSmoothL1Forward(View<T> prediction, View<T> target, T beta, T scale, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default);

    /// <summary><c>dpᵢ (+)= upstream[0]·scale·s′β(dᵢ)/max(n, 1)</c> where tᵢ is present (s′β(d) = d/β for |d| &lt; β, sign(d)
    /// otherwise, sign(0) = 0), <c>(+)= 0</c> where it is NaN. With <paramref name="rowWeights"/>, <paramref name="count"/> holds
    /// D and <c>dpᵢ (+)= upstream[0]·scale·sᵣ·s′β(dᵢ)/D</c> (0 everywhere when D = 0).</summary>
    public abstract void MaskedSmoothL1Backward(View<T> prediction, View<T> target, T beta, T scale, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default);
}
