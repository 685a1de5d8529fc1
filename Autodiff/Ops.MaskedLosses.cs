using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Masked mean squared error: NaN targets are "no label" and left out, <c>L = (1/max(n, 1))·Σ_{t present} (p − t)²</c>
    /// with n the number of present targets, a 1×1 tensor. n is written to <paramref name="count"/> (a device scalar; from
    /// the arena when empty), so a batch without labels gives L = 0 and a zero gradient, with no host read.
    /// The target gets no gradient (it is data). Maths: docs/maths.md §19.1.
    /// With sample weights (<paramref name="rowWeights"/>: one sᵣ ≥ 0 per row of the prediction) the loss is the weighted
    /// mean over the labelled elements, <c>L = Σ sᵣmᵢ(pᵢ − tᵢ)² / Σ sᵣmᵢ</c> (0 when the sum is 0), the sum going to
    /// <paramref name="weightSum"/> (from the arena when empty); count is still n. Maths: §19.11.
    /// </summary>
    public static Tensor<T> MaskedMse<T>(this Tape<T> tape, Tensor<T> prediction, Tensor<T> target, View<T> count = default,
        View<T> rowWeights = default, View<T> weightSum = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (prediction.Shape != target.Shape)
            throw new ArgumentException($"MaskedMse: target {target} must have the shape of prediction {prediction}.", nameof(target));
        if (target.RequiresGrad)
            throw new ArgumentException($"MaskedMse: the target {target} must not require a gradient (it is data with missing values).", nameof(target));
        if (!rowWeights.IsEmpty && rowWeights.Length != prediction.Rows)
            throw new ArgumentException($"MaskedMse: {rowWeights.Length} row weights for {prediction} (one weight per row).", nameof(rowWeights));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        if (!rowWeights.IsEmpty && weightSum.IsEmpty) weightSum = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, prediction.RequiresGrad, "masked_mse");
        tape.Backend.MaskedMseForward(prediction.Data, target.Data, loss.Data, count, rowWeights, weightSum);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.MaskedMse, loss);
            record.A = prediction;
            record.B = target;
            record.Count = rowWeights.IsEmpty ? count : weightSum;   // the backward's denominator: n, or D with weights
            record.RowWeights = rowWeights;
        }
        return loss;
    }

    /// <summary>dp = dL·2(p − t)/max(n, 1) where t is present, 0 elsewhere (with row weights dL·2sᵣ(p − t)/D).</summary>
    internal static void MaskedMseBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = record.A!;
        if (!Tape<T>.Wants(p)) return;
        var dP = tape.GradOf(p, out bool accumulate);
        tape.Backend.MaskedMseBackward(p.Data, record.B!.Data, record.Count, record.Output.Grad, dP, accumulate, record.RowWeights);
    }

    /// <summary>
    /// Masked softmax cross-entropy: rows whose label is negative (<see cref="MissingLabel.Class"/>) are "no label",
    /// <c>L = −(1/max(n, 1))·Σ_{yᵢ ≥ 0} log softmax(zᵢ)[yᵢ]</c> with n the labelled rows (written to
    /// <paramref name="count"/>, from the arena when empty). Maths: docs/maths.md §19.1.
    /// </summary>
    public static Tensor<T> MaskedSoftmaxCrossEntropy<T>(this Tape<T> tape, Tensor<T> logits, Labels labels, View<T> count = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (labels.Length != logits.Rows)
            throw new ArgumentException($"MaskedSoftmaxCrossEntropy: {labels.Length} labels for {logits} (one label per row).", nameof(labels));
        if (logits.Cols < 2)
            throw new ArgumentException($"MaskedSoftmaxCrossEntropy: {logits} needs at least two classes.", nameof(logits));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, logits.RequiresGrad, "masked_cross_entropy");
        var probabilities = tape.Arena.Take(logits.Length);
        tape.Backend.MaskedSoftmaxCrossEntropyForward(logits.Data, labels.Values, logits.Rows, logits.Cols, probabilities, loss.Data, count);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.MaskedSoftmaxCrossEntropy, loss);
            record.A = logits;
            record.Labels = labels.Values;
            record.Saved = probabilities;
            record.Count = count;
        }
        return loss;
    }

    /// <summary>dz = dL·(softmax(z) − onehot(y))/max(n, 1) for labelled rows, 0 for the others.</summary>
    internal static void MaskedSoftmaxCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var logits = record.A!;
        var dZ = tape.GradOf(logits, out bool accumulate);
        tape.Backend.MaskedSoftmaxCrossEntropyBackward(record.Saved, record.Labels, logits.Rows, logits.Cols,
            record.Count, record.Output.Grad, dZ, accumulate);
    }
}
