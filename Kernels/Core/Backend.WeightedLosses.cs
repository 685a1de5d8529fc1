namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Weighted, label-smoothed, masked softmax cross-entropy: PyTorch 1.13's <c>CrossEntropyLoss(weight=w,
    /// label_smoothing=ε)</c> with 'mean' reduction and a negative label (<see cref="MissingLabel.Class"/>) ignored, extended
    /// by a weight sᵣ ≥ 0 per row. With q_rk = (1 − ε)·w_{yᵣ}·1[k = yᵣ] + (ε/K)·w_k over the labelled rows:
    /// <c>loss[0] = Σᵣ sᵣ·Σ_k q_rk·(−log softmax(zᵣ)_k) / D</c>, <c>weightSum[0] = D = Σᵣ sᵣ·w_{yᵣ}</c>, and
    /// <c>loss[0] = 0</c> when D = 0 (never NaN); <c>count[0] = n</c>, the labelled rows (what the masked kernels write, for the
    /// optimizer's gate and the metrics). Probabilities are written for every row. An empty <paramref name="rowWeights"/>
    /// ([batch]) or <paramref name="classWeights"/> ([classes]) means all ones; ε ∈ [0, 1]. Weights are data, checked where
    /// they enter the engine (finite, ≥ 0), not here. The readable reference is <see cref="WeightedCrossEntropyReference"/>;
    /// maths: docs/maths.md §19.9.
    /// </summary>
    public abstract void WeightedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> classWeights,
        T smoothing, int batch, int classes, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum);

    /// <summary>The fused backward: <c>dz_rk (+)= upstream[0]·sᵣ·(Qᵣ·p_rk − q_rk)/D</c> for labelled rows with
    /// Qᵣ = Σ_k q_rk = (1 − ε)·w_{yᵣ} + (ε/K)·Σ_k w_k, <c>(+)= 0</c> for unlabelled rows and everywhere when D = 0;
    /// <paramref name="probabilities"/> and <paramref name="weightSum"/> are what the forward wrote.</summary>
    public abstract void WeightedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> classWeights,
        T smoothing, int batch, int classes, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate);
}
