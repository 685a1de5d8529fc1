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

    /// <summary>
    /// Masked binary cross-entropy with logits and a positive-class weight per label column: PyTorch 1.13's
    /// <c>BCEWithLogitsLoss(pos_weight=p)</c> with 'mean' reduction over the labelled elements (label ≥ 0). Element i is in
    /// column i mod <paramref name="columns"/> (a multi-label task's k labels per row; 1 for a binary task) with weight p_c:
    /// <c>ℓᵢ = p_c·yᵢ·softplus(−zᵢ) + (1 − yᵢ)·softplus(zᵢ)</c>, <c>loss[0] = Σ ℓᵢ / D</c> with D = <c>weightSum[0]</c> = Σ sᵣ over
    /// the labelled elements (sᵣ the row's weight, 1 when <paramref name="rowWeights"/> is empty, so D = n as in PyTorch:
    /// pos_weight does not enter the denominator); 0 when D = 0. <c>count[0] = n</c>, the labelled elements;
    /// <c>probabilities[i] = σ(zᵢ)</c> for every element. Maths: docs/maths.md §19.10.
    /// With label smoothing ε ∈ [0, 1] (§19.13; Keras' <c>BinaryCrossentropy(label_smoothing=ε)</c>) the label yᵢ is replaced by
    /// the soft target tᵢ = yᵢ(1 − ε) + ε/2: <c>ℓᵢ = p_c·tᵢ·softplus(−zᵢ) + (1 − tᵢ)·softplus(zᵢ)</c>; ε = 0 is the loss above,
    /// bit for bit.
    /// </summary>
    public abstract void PositiveWeightedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum);

    /// <summary>The fused backward: <c>dzᵢ (+)= upstream[0]·sᵣ·(p_c·tᵢ·(σ(zᵢ) − 1) + (1 − tᵢ)·σ(zᵢ))/D</c> for labelled elements
    /// (tᵢ = yᵢ(1 − ε) + ε/2; with ε = 0, p_c(σ − 1) for yᵢ = 1 and σ for yᵢ = 0), <c>(+)= 0</c> for the others and everywhere
    /// when D = 0.</summary>
    public abstract void PositiveWeightedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate);
}
