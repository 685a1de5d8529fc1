namespace Engine.Kernels;

/// <summary>
/// The readable reference of the positive-weighted binary cross-entropy with logits (maths: docs/maths.md §19.10), one
/// element at a time in double: PyTorch 1.13's <c>BCEWithLogitsLoss(pos_weight=p)</c>, 'mean' over the labelled elements,
/// extended by a row weight sᵣ (empty = 1) and label smoothing ε (§19.13, Keras' convention: the target tᵢ = yᵢ(1 − ε) + ε/2;
/// ε = 0: tᵢ = yᵢ):
/// <code>
///   ℓᵢ = p_c·tᵢ·softplus(−zᵢ) + (1 − tᵢ)·softplus(zᵢ),   softplus(x) = max(x, 0) + log1p(e^{−|x|})
///   L  = Σ sᵣℓᵢ / Σ sᵣ  (labelled elements; L = 0 when the sum is 0)
///   ∂L/∂zᵢ = sᵣ·((1 + (p_c − 1)·tᵢ)·σ(zᵢ) − p_c·tᵢ) / Σ sᵣ
/// </code>
/// Element i belongs to row i / columns and column c = i mod columns.
/// </summary>
public static class PositiveWeightedBceReference
{
    /// <summary>The loss, the labelled count n, the denominator D and ∂L/∂z.</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels,
        int columns, ReadOnlySpan<double> rowWeights, ReadOnlySpan<double> positiveWeights, double smoothing = 0)
    {
        double total = 0, denominator = 0;
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (labels[i] < 0) continue;
            double s = rowWeights.IsEmpty ? 1 : rowWeights[i / columns], p = positiveWeights[i % columns], z = logits[i];
            double t = labels[i] * (1 - smoothing) + smoothing / 2;
            total += s * (p * t * Softplus(-z) + (1 - t) * Softplus(z));
            denominator += s;
            n++;
        }
        var gradient = new double[logits.Length];
        if (denominator > 0)
            for (int i = 0; i < logits.Length; i++)
            {
                if (labels[i] < 0) continue;
                double s = rowWeights.IsEmpty ? 1 : rowWeights[i / columns], p = positiveWeights[i % columns], t = labels[i] * (1 - smoothing) + smoothing / 2;
                gradient[i] = s * ((1 + (p - 1) * t) * BinaryCrossEntropyReference.Sigmoid(logits[i]) - p * t) / denominator;
            }
        return (denominator > 0 ? total / denominator : 0, n, denominator, gradient);
    }

    /// <summary>softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^{−|x|}), never overflowing.</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + BinaryCrossEntropyReference.Log1P(Math.Exp(-Math.Abs(x)));
}
