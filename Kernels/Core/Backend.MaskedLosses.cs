namespace Engine.Kernels;

/// <summary>
/// How a missing label is written in the device buffers the masked kernels read: a NaN regression target, a
/// negative class index. Maths: docs/maths.md §19.1.
/// </summary>
public static class MissingLabel
{
    /// <summary>The class index of a row that has no label for the task.</summary>
    public const int Class = -1;

    /// <summary>True when a regression target is "no label" (NaN).</summary>
    public static bool IsMissing(float target) => float.IsNaN(target);
}

public abstract partial class Backend<T>
{
    /// <summary>
    /// Masked mean squared error: a NaN target means "no label" and the element is left out.
    /// <c>count[0] = n = #{i : tᵢ not NaN}</c> and <c>loss[0] = (1/max(n, 1))·Σ_{tᵢ not NaN} (pᵢ − tᵢ)²</c>, so a batch
    /// without a label gives loss 0 (never NaN). A NaN <i>prediction</i> with a present target still gives NaN.
    /// Both scalars stay on the device (<see cref="MaskedMseBackward"/> reads the count there).
    /// With per-row sample weights sᵣ (<paramref name="rowWeights"/> non-empty, one per row of the [rows × columns]
    /// prediction, columns = prediction.Length / rowWeights.Length) the loss is the weighted mean over the labelled
    /// elements, <c>L = Σ sᵣmᵢ(pᵢ − tᵢ)² / D</c>, <c>D = Σ sᵣmᵢ</c> written to <paramref name="weightSum"/> (required
    /// then), L = 0 when D = 0; count is still n. Empty row weights run the unweighted kernel unchanged (maths §19.11).
    /// </summary>
    public abstract void MaskedMseForward(View<T> prediction, View<T> target, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default);

    /// <summary><c>dpᵢ (+)= upstream[0]·2(pᵢ − tᵢ)/max(n, 1)</c> where tᵢ is present, <c>(+)= 0</c> where it is NaN;
    /// <paramref name="count"/> is the n written by <see cref="MaskedMseForward"/>. With <paramref name="rowWeights"/>
    /// non-empty, <paramref name="count"/> is the weight sum D instead and <c>dpᵢ (+)= upstream·2sᵣ(pᵢ − tᵢ)/D</c>
    /// (0 when D = 0).</summary>
    public abstract void MaskedMseBackward(View<T> prediction, View<T> target, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default);

    /// <summary>
    /// Masked softmax cross-entropy: a negative label (<see cref="MissingLabel.Class"/>) means "no label" and the row is
    /// left out of the loss. Probabilities are written for every row. <c>count[0] = n</c> = labelled rows,
    /// <c>loss[0] = (1/max(n, 1))·Σ_{yᵢ ≥ 0} −log softmax(zᵢ)[yᵢ]</c> (max-shifted). A label ≥ classes is an error
    /// (the CPU throws; on ILGPU the loss becomes NaN, as for the unmasked kernel).
    /// </summary>
    public abstract void MaskedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes,
        View<T> probabilities, View<T> loss, View<T> count);

    /// <summary><c>dz[i, ·] (+)= upstream[0]·(pᵢ − onehot(yᵢ))/max(n, 1)</c> for labelled rows, <c>(+)= 0</c> for unlabelled ones.</summary>
    public abstract void MaskedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes,
        View<T> count, View<T> upstream, View<T> dLogits, bool accumulate);

    /// <summary>For the metrics of partly labelled regression targets: <c>differenceᵢ = pᵢ − tᵢ</c> and <c>maskᵢ = 1</c>
    /// where tᵢ is present; <c>differenceᵢ = 0</c>, <c>maskᵢ = 0</c> where tᵢ is NaN. Overwrites both outputs.</summary>
    public abstract void MaskedDifference(View<T> prediction, View<T> target, View<T> difference, View<T> mask);
}
