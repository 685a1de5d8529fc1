using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>Masked L1 loss: <c>L = (1/max(n, 1))·Σ_{t present} |p − t|</c>, gradient sign(p − t)/n (0 at p = t, as in
    /// PyTorch). Maths: docs/maths.md §19.5. With sample weights (<paramref name="rowWeights"/>: one sᵣ ≥ 0 per row) the
    /// weighted mean <c>Σ sᵣmᵢ|pᵢ − tᵢ| / Σ sᵣmᵢ</c> (0 when the sum is 0), the sum going to <paramref name="weightSum"/>
    /// (from the arena when empty); count is still n. Maths: §19.11.</summary>
    public static Tensor<T> MaskedL1<T>(this Tape<T> tape, Tensor<T> prediction, Tensor<T> target, View<T> count = default,
        View<T> rowWeights = default, View<T> weightSum = default) where T : unmanaged, IFloatingPointIeee754<T> =>
        MaskedSmoothL1(tape, prediction, target, T.Zero, T.One, count, "masked_l1", rowWeights, weightSum);

    /// <summary>Masked Huber loss with threshold δ &gt; 0 (PyTorch's <c>HuberLoss(delta)</c>): ½d² for |d| ≤ δ, δ(|d| − ½δ)
    /// beyond, mean over the present targets. Maths: docs/maths.md §19.5. With sample weights the weighted mean over the
    /// labelled elements, as <see cref="MaskedL1"/> (§19.11).</summary>
    public static Tensor<T> MaskedHuber<T>(this Tape<T> tape, Tensor<T> prediction, Tensor<T> target, T delta, View<T> count = default,
        View<T> rowWeights = default, View<T> weightSum = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(delta > T.Zero) || !T.IsFinite(delta)) throw new ArgumentOutOfRangeException(nameof(delta), delta, "MaskedHuber: δ must be finite and > 0.");
        return MaskedSmoothL1(tape, prediction, target, delta, delta, count, "masked_huber", rowWeights, weightSum);
    }

    private static Tensor<T> MaskedSmoothL1<T>(Tape<T> tape, Tensor<T> prediction, Tensor<T> target, T beta, T scale, View<T> count, string name,
        View<T> rowWeights, View<T> weightSum) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (prediction.Shape != target.Shape)
            throw new ArgumentException($"{name}: target {target} must have the shape of prediction {prediction}.", nameof(target));
        if (target.RequiresGrad)
            throw new ArgumentException($"{name}: the target {target} must not require a gradient (it is data).", nameof(target));
        if (!rowWeights.IsEmpty && rowWeights.Length != prediction.Rows)
            throw new ArgumentException($"{name}: {rowWeights.Length} row weights for {prediction} (one weight per row).", nameof(rowWeights));
        if (count.IsEmpty) count = tape.Arena.Take(1);
        if (!rowWeights.IsEmpty && weightSum.IsEmpty) weightSum = tape.Arena.Take(1);
        var loss = tape.NewActivation(1, 1, prediction.RequiresGrad, name);
        tape.Backend.MaskedSmoothL1Forward(prediction.Data, target.Data, beta, scale, loss.Data, count, rowWeights, weightSum);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.MaskedSmoothL1, loss);
            record.A = prediction;
            record.B = target;
            record.Count = rowWeights.IsEmpty ? count : weightSum;   // the backward's denominator: n, or D with weights
            record.RowWeights = rowWeights;
            record.Alpha = beta;
            record.Scale = scale;
        }
        return loss;
    }

    /// <summary>dp = dL·scale·s′β(p − t)/max(n, 1) where t is present, 0 elsewhere (with row weights dL·scale·sᵣs′β(p − t)/D).</summary>
    internal static void MaskedSmoothL1Backward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = record.A!;
        if (!Tape<T>.Wants(p)) return;
        var dP = tape.GradOf(p, out bool accumulate);
        tape.Backend.MaskedSmoothL1Backward(p.Data, record.B!.Data, record.Alpha, record.Scale, record.Count, record.Output.Grad, dP, accumulate, record.RowWeights);
    }
}
