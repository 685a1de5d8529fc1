using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>Mean squared error over every element: <c>L = (1/N)·Σ (p − t)²</c>, a 1×1 tensor.</summary>
    public static Tensor<T> Mse<T>(this Tape<T> tape, Tensor<T> prediction, Tensor<T> target) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (prediction.Shape != target.Shape)
            throw new ArgumentException($"Mse: target {target} must have the shape of prediction {prediction}.", nameof(target));
        var loss = tape.NewActivation(1, 1, prediction.RequiresGrad || target.RequiresGrad, "mse");
        tape.Backend.MseForward(prediction.Data, target.Data, loss.Data);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.Mse, loss);
            record.A = prediction;
            record.B = target;
        }
        return loss;
    }

    /// <summary>dp = dL·2(p − t)/N; dt = −dp (the same kernel with the roles swapped).</summary>
    internal static void MseBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = record.A!;
        var t = record.B!;
        var upstream = record.Output.Grad;
        if (Tape<T>.Wants(p))
        {
            var dP = tape.GradOf(p, out bool accumulate);
            tape.Backend.MseBackward(p.Data, t.Data, upstream, dP, accumulate);
        }
        if (Tape<T>.Wants(t))
        {
            var dT = tape.GradOf(t, out bool accumulate);
            tape.Backend.MseBackward(t.Data, p.Data, upstream, dT, accumulate);
        }
    }

    /// <summary>
    /// Softmax cross-entropy with class-index targets, mean over the batch:
    /// <c>L = −(1/B)·Σᵢ log softmax(zᵢ)[yᵢ]</c>, computed with the max shift (stable for large logits).
    /// Logits are [batch × classes]; the softmax probabilities are kept for the backward.
    /// </summary>
    public static Tensor<T> SoftmaxCrossEntropy<T>(this Tape<T> tape, Tensor<T> logits, Labels labels) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (labels.Length != logits.Rows)
            throw new ArgumentException($"SoftmaxCrossEntropy: {labels.Length} labels for {logits} (one label per row).", nameof(labels));
        if (logits.Cols < 2)
            throw new ArgumentException($"SoftmaxCrossEntropy: {logits} needs at least two classes.", nameof(logits));
        var loss = tape.NewActivation(1, 1, logits.RequiresGrad, "cross_entropy");
        var probabilities = tape.Arena.Take(logits.Length);
        tape.Backend.SoftmaxCrossEntropyForward(logits.Data, labels.Values, logits.Rows, logits.Cols, probabilities, loss.Data);
        if (loss.RequiresGrad)
        {
            var record = tape.Record(OpKind.SoftmaxCrossEntropy, loss);
            record.A = logits;
            record.Labels = labels.Values;
            record.Saved = probabilities;
        }
        return loss;
    }

    /// <summary>dz = dL·(softmax(z) − onehot(y))/B.</summary>
    internal static void SoftmaxCrossEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var logits = record.A!;
        var dZ = tape.GradOf(logits, out bool accumulate);
        tape.Backend.SoftmaxCrossEntropyBackward(record.Saved, record.Labels, logits.Rows, logits.Cols,
            record.Output.Grad, dZ, accumulate);
    }

    /// <summary>
    /// The multi-task objective <c>L = Σᵢ wᵢ·Lᵢ</c> of k scalar losses, with the weights a device vector
    /// (a 1×k or k×1 tensor) so that a weighting scheme can update them without a host round-trip. If the
    /// weights require a gradient (learned weighting), they get one too.
    /// </summary>
    public static Tensor<T> WeightedSum<T>(this Tape<T> tape, Tensor<T> weights, params ReadOnlySpan<Tensor<T>> losses) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (losses.Length == 0) throw new ArgumentException("WeightedSum needs at least one loss.", nameof(losses));
        if (weights.Length != losses.Length)
            throw new ArgumentException($"WeightedSum: {weights} holds {weights.Length} weights for {losses.Length} losses.", nameof(weights));
        bool requiresGrad = weights.RequiresGrad;
        for (int i = 0; i < losses.Length; i++)
        {
            if (losses[i] is null) throw new ArgumentNullException(nameof(losses), $"losses[{i}] is null.");
            if (losses[i].Length != 1)
                throw new ArgumentException($"WeightedSum: losses[{i}] is {losses[i]}, not a scalar.", nameof(losses));
            requiresGrad |= losses[i].RequiresGrad;
        }

        // Gather the k scalars (each a 1-element arena view) into one vector, then one dot product.
        var stacked = tape.Arena.Take(losses.Length);
        for (int i = 0; i < losses.Length; i++) tape.Backend.Copy(losses[i].Data, stacked.Slice(i, 1));
        var total = tape.NewActivation(1, 1, requiresGrad, "weighted_sum");
        tape.Backend.Dot(stacked, weights.Data, total.Data);
        if (total.RequiresGrad)
        {
            var record = tape.Record(OpKind.WeightedSum, total);
            record.A = weights;
            record.Saved = stacked;
            foreach (var loss in losses) record.Inputs.Add(loss);
        }
        return total;
    }

    /// <summary>dLᵢ = dL·wᵢ and dwᵢ = dL·Lᵢ, both scaled on the device.</summary>
    internal static void WeightedSumBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var backend = tape.Backend;
        var upstream = record.Output.Grad;
        var weights = record.A!;
        for (int i = 0; i < record.Inputs.Count; i++)
        {
            var loss = record.Inputs[i];
            if (!Tape<T>.Wants(loss)) continue;
            var dLoss = tape.GradOf(loss, out bool accumulate);
            backend.ScaleByScalar(weights.Data.Slice(i, 1), upstream, dLoss, accumulate);
        }
        if (Tape<T>.Wants(weights))
        {
            var dWeights = tape.GradOf(weights, out bool accumulate);
            backend.ScaleByScalar(record.Saved, upstream, dWeights, accumulate);
        }
    }
}
