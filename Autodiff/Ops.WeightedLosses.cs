using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Weighted, label-smoothed, masked softmax cross-entropy (PyTorch 1.13's <c>CrossEntropyLoss(weight=w,
    /// label_smoothing=ε)</c>, 'mean' reduction, negative labels ignored, extended by a weight sᵣ per row):
    /// <c>L = Σᵣ sᵣ·Σ_k q_rk·(−log softmax(zᵣ)_k) / Σᵣ sᵣ·w_{yᵣ}</c> over the labelled rows, with
    /// q_rk = (1 − ε)·w_{yᵣ}·1[k = yᵣ] + (ε/K)·w_k; L = 0 when the denominator is 0. Empty <paramref name="rowWeights"/> /
    /// <paramref name="classWeights"/> mean all ones. The labelled count n goes to <paramref name="count"/> and the
    /// denominator to <paramref name="weightSum"/> (both from the arena when empty). The weights get no gradient (they are
    /// data). Maths: docs/maths.md §19.9.
    /// </summary>
    public static Tensor<T> WeightedSoftmaxCrossEntropy<T>(this Tape<T> tape, Tensor<T> logits, Labels labels, View<T> rowWeights, View<T> classWeights,
        T smoothing, View<T> count = default, View<T> weightSum = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (labels.Length != logits.Rows)
            throw new ArgumentException($"WeightedSoftmaxCrossEntropy: {labels.Length} labels for {logits} (one label per row).", nameof(labels));
        if (logits.Cols < 2)
            throw new ArgumentException($"WeightedSoftmaxCrossEntropy: {logits} needs at least two classes.", nameof(logits));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        if (weightSum.IsEmpty) weightSum = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, logits.RequiresGrad, "weighted_cross_entropy");
        var probabilities = tape.Arena.Take(logits.Length);
        tape.Backend.WeightedSoftmaxCrossEntropyForward(logits.Data, labels.Values, rowWeights, classWeights, smoothing, logits.Rows, logits.Cols,
            probabilities, loss.Data, count, weightSum);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.WeightedSoftmaxCrossEntropy, loss);
            record.A = logits;
            record.Labels = labels.Values;
            record.Saved = probabilities;
            record.Count = weightSum;
            record.RowWeights = rowWeights;
            record.ClassWeights = classWeights;
            record.Alpha = smoothing;
        }
        return loss;
    }

    /// <summary>dz_r = dL·sᵣ·(Qᵣ·softmax(zᵣ) − qᵣ)/D for labelled rows, 0 for the others (and everywhere when D = 0).</summary>
    internal static void WeightedSoftmaxCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var logits = record.A!;
        var dZ = tape.GradOf(logits, out bool accumulate);
        tape.Backend.WeightedSoftmaxCrossEntropyBackward(record.Saved, record.Labels, record.RowWeights, record.ClassWeights, record.Alpha,
            logits.Rows, logits.Cols, record.Count, record.Output.Grad, dZ, accumulate);
    }

    /// <summary>
    /// Masked binary cross-entropy with logits and a positive weight per label column (PyTorch 1.13's
    /// <c>BCEWithLogitsLoss(pos_weight=p)</c>, 'mean' over the labelled elements; negative labels ignored), extended by a row
    /// weight sᵣ (empty = 1): <c>L = Σ sᵣ[p_c·y·softplus(−z) + (1 − y)·softplus(z)] / Σ sᵣ</c> over the labelled elements, 0 when
    /// the sum is 0. The logits are [rows × columns] (a binary task: 1 column). Maths: docs/maths.md §19.10. With label
    /// smoothing ε (§19.13) y is replaced by the target t = y(1 − ε) + ε/2 (Keras' <c>BinaryCrossentropy(label_smoothing=ε)</c>).
    /// </summary>
    public static Tensor<T> PositiveWeightedBinaryCrossEntropy<T>(this Tape<T> tape, Tensor<T> logits, Labels labels, View<T> rowWeights, View<T> positiveWeights,
        View<T> count = default, View<T> weightSum = default, T smoothing = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (labels.Length != logits.Length)
            throw new ArgumentException($"PositiveWeightedBinaryCrossEntropy: {labels.Length} labels for {logits} (one label per logit).", nameof(labels));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        if (weightSum.IsEmpty) weightSum = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, logits.RequiresGrad, "positive_weighted_binary_cross_entropy");
        var probabilities = tape.Arena.Take(logits.Length);
        tape.Backend.PositiveWeightedBinaryCrossEntropyForward(logits.Data, labels.Values, rowWeights, positiveWeights, smoothing, logits.Cols, probabilities, loss.Data, count, weightSum);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.PositiveWeightedBinaryCrossEntropy, loss);
            record.A = logits;
            record.Labels = labels.Values;
            record.Saved = probabilities;
            record.Count = weightSum;
            record.RowWeights = rowWeights;
            record.ClassWeights = positiveWeights;
            record.Columns = logits.Cols;
            record.Alpha = smoothing;
        }
        return loss;
    }

    /// <summary>dzᵢ = dL·sᵣ((1 + (p_c − 1)tᵢ)σ(zᵢ) − p_c·tᵢ)/D for labelled elements (tᵢ the smoothed target), 0 for the others.</summary>
    internal static void PositiveWeightedBinaryCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var logits = record.A!;
        var dZ = tape.GradOf(logits, out bool accumulate);
        tape.Backend.PositiveWeightedBinaryCrossEntropyBackward(record.Saved, record.Labels, record.RowWeights, record.ClassWeights, record.Alpha, record.Columns,
            record.Count, record.Output.Grad, dZ, accumulate);
    }
}
