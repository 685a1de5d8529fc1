using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Masked binary cross-entropy with logits: one label per logit (0, 1, or negative = <see cref="MissingLabel.Class"/>,
    /// no label), <c>L = (1/max(n, 1))·Σ_{yᵢ ≥ 0} [max(zᵢ, 0) − zᵢyᵢ + log1p(e^{−|zᵢ|})]</c> with n the labelled logits
    /// (written to <paramref name="count"/>, from the arena when empty), a 1×1 tensor. σ(z) is saved for the fused
    /// backward. Maths: docs/maths.md §19.3.
    /// </summary>
    public static Tensor<T> MaskedBinaryCrossEntropy<T>(this Tape<T> tape, Tensor<T> logits, Labels labels, View<T> count = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (labels.Length != logits.Length)
            throw new ArgumentException($"MaskedBinaryCrossEntropy: {labels.Length} labels for {logits} (one label per logit).", nameof(labels));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, logits.RequiresGrad, "masked_binary_cross_entropy");
        var probabilities = tape.Arena.Take(logits.Length);
        tape.Backend.MaskedBinaryCrossEntropyForward(logits.Data, labels.Values, probabilities, loss.Data, count);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.MaskedBinaryCrossEntropy, loss);
            record.A = logits;
            record.Labels = labels.Values;
            record.Saved = probabilities;
            record.Count = count;
        }
        return loss;
    }

    /// <summary>dz = dL·(σ(z) − y)/max(n, 1) for labelled logits, 0 for the others.</summary>
    internal static void MaskedBinaryCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var logits = record.A!;
        var dZ = tape.GradOf(logits, out bool accumulate);
        tape.Backend.MaskedBinaryCrossEntropyBackward(record.Saved, record.Labels, record.Count, record.Output.Grad, dZ, accumulate);
    }
}
