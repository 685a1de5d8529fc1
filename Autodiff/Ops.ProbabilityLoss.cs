using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>): one label per probability (0, 1, or
    /// negative = no label), <c>L = (1/max(n, 1))·Σ_{yᵢ ≥ 0} −[yᵢ·max(log pᵢ, −100) + (1 − yᵢ)·max(log1p(−pᵢ), −100)]</c>,
    /// a 1×1 tensor, n written to <paramref name="count"/> (from the arena when empty). For outputs that are probabilities
    /// with no logit behind them (ESMM's pCTCVR = pCTR·pCVR); a task with a logit should use
    /// <see cref="MaskedBinaryCrossEntropy{T}"/>, which is exact where this one clamps. Maths: docs/maths.md §19.7. With sample
    /// weights (<paramref name="rowWeights"/>, one sᵣ ≥ 0 per row) the weighted mean Σ sᵣℓᵢ / Σ sᵣ over the labelled elements (0
    /// when the sum is 0), the sum going to <paramref name="weightSum"/> (from the arena when empty); count is still n (§19.11).
    /// </summary>
    public static Tensor<T> MaskedProbabilityCrossEntropy<T>(this Tape<T> tape, Tensor<T> probabilities, Labels labels, View<T> count = default,
        View<T> rowWeights = default, View<T> weightSum = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        if (labels.Length != probabilities.Length)
            throw new ArgumentException($"MaskedProbabilityCrossEntropy: {labels.Length} labels for {probabilities} (one label per probability).", nameof(labels));
        if (!rowWeights.IsEmpty && rowWeights.Length != probabilities.Rows)
            throw new ArgumentException($"MaskedProbabilityCrossEntropy: {rowWeights.Length} row weights for {probabilities} (one weight per row).", nameof(rowWeights));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        if (!rowWeights.IsEmpty && weightSum.IsEmpty) weightSum = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, probabilities.RequiresGrad, "masked_probability_cross_entropy");
        tape.Backend.MaskedProbabilityCrossEntropyForward(probabilities.Data, labels.Values, loss.Data, count, rowWeights, weightSum);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.MaskedProbabilityCrossEntropy, loss);
            record.A = probabilities;
            record.Labels = labels.Values;
            record.Count = rowWeights.IsEmpty ? count : weightSum;   // the backward's denominator: n, or D with weights
            record.RowWeights = rowWeights;
        }
        return loss;
    }

    /// <summary>dp = dL·(p − y)/(max(n, 1)·max(p(1 − p), 10⁻¹²)) for labelled elements, 0 for the others.</summary>
    internal static void MaskedProbabilityCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = record.A!;
        if (!Tape<T>.Wants(p)) return;
        var dP = tape.GradOf(p, out bool accumulate);
        tape.Backend.MaskedProbabilityCrossEntropyBackward(p.Data, record.Labels, record.Count, record.Output.Grad, dP, accumulate, record.RowWeights);
    }
}
