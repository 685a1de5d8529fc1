namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Masked binary cross-entropy with logits, element by element (a binary task has one logit per row; k independent
    /// logits share the kernel): <c>labels[i]</c> ∈ {0, 1}, or negative (<see cref="MissingLabel.Class"/>) for "no label".
    /// <c>probabilities[i] = σ(zᵢ)</c> for every element, <c>count[0] = n</c> = labelled elements and
    /// <c>loss[0] = (1/max(n, 1))·Σ_{yᵢ ≥ 0} [max(zᵢ, 0) − zᵢyᵢ + log1p(e^{−|zᵢ|})]</c>, the stable form of
    /// −yᵢ log σ(zᵢ) − (1 − yᵢ) log(1 − σ(zᵢ)), so a batch without a label gives 0 (never NaN).
    /// A label above 1 is an error (the CPU throws; on ILGPU the loss becomes NaN). Maths: docs/maths.md §19.3.
    /// </summary>
    public abstract void MaskedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> probabilities, View<T> loss, View<T> count);

    /// <summary>The fused backward: <c>dzᵢ (+)= upstream[0]·(σ(zᵢ) − yᵢ)/max(n, 1)</c> for labelled elements, <c>(+)= 0</c> for
    /// the others; <paramref name="probabilities"/> and <paramref name="count"/> are what the forward wrote.</summary>
    public abstract void MaskedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dLogits, bool accumulate);

    /// <summary>The accuracy count of binary logits: <c>count[0] = #{i : yᵢ ≥ 0 and [zᵢ &gt; 0] = yᵢ}</c> (z = 0, σ = ½, counts as
    /// class 0, as argmax ties go to the lowest class); unlabelled elements never count.</summary>
    public abstract void CountCorrectBinary(View<T> logits, View<int> labels, View<T> count);

    /// <summary>
    /// Masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>), element by element: <c>labels[i]</c> ∈ {0, 1}
    /// or negative (no label), <c>count[0] = n</c> = labelled elements and
    /// <c>loss[0] = (1/max(n, 1))·Σ_{yᵢ ≥ 0} −[yᵢ·max(log pᵢ, −100) + (1 − yᵢ)·max(log1p(−pᵢ), −100)]</c>: the log clamped at
    /// −100 as PyTorch does, so p = 0 or 1 gives a finite loss. For a task whose output is already a probability (ESMM's
    /// pCTCVR = pCTR·pCVR, a product of sigmoids, has no logit). p outside [0, 1] gives NaN. Maths: docs/maths.md §19.7.
    /// With per-row sample weights sᵣ (<paramref name="rowWeights"/> non-empty, one per row of the [rows × columns] matrix)
    /// <c>loss[0] = Σ sᵣ·ℓᵢ / D</c>, D = Σ sᵣ over the labelled elements written to <paramref name="weightSum"/>, 0 when D = 0;
    /// a row of weight 0 adds nothing (maths §19.11).
    /// </summary>
    public abstract void MaskedProbabilityCrossEntropyForward(View<T> probabilities, View<int> labels, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default);

    /// <summary>The fused backward, PyTorch's: <c>dpᵢ (+)= upstream[0]·(pᵢ − yᵢ)/(max(n, 1)·max(pᵢ(1 − pᵢ), 10⁻¹²))</c> for
    /// labelled elements, <c>(+)= 0</c> for the others (<paramref name="count"/> is what the forward wrote). With
    /// <paramref name="rowWeights"/>, <paramref name="count"/> holds D and the term is <c>upstream[0]·sᵣ·(pᵢ − yᵢ)/(D·max(pᵢ(1 − pᵢ), 10⁻¹²))</c>
    /// (0 everywhere when D = 0).</summary>
    public abstract void MaskedProbabilityCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dProbabilities, bool accumulate,
        View<T> rowWeights = default);
}
