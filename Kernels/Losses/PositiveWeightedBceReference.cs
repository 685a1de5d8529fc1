namespace Engine.Kernels;

/// <summary>
/// The readable reference of the positive-weighted binary cross-entropy with logits (maths: docs/maths.md §19.10), one
/// element at a time in double: PyTorch 1.13's <c>BCEWithLogitsLoss(pos_weight=p)</c>, 'mean' over the labelled elements,
/// extended by a row weight sᵣ (empty = 1):
/// <code>
///   ℓᵢ = p_c·yᵢ·softplus(−zᵢ) + (1 − yᵢ)·softplus(zᵢ),   softplus(x) = max(x, 0) + log1p(e^{−|x|})
///   L  = Σ sᵣℓᵢ / Σ sᵣ  (labelled elements; L = 0 when the sum is 0)
///   ∂L/∂zᵢ = sᵣ·((1 + (p_c − 1)·yᵢ)·σ(zᵢ) − p_c·yᵢ) / Σ sᵣ
/// </code>
/// Element i belongs to row i / columns and column c = i mod columns.
/// </summary>
public static class PositiveWeightedBceReference
{
    /// <summary>The loss, the labelled count n, the denominator D and ∂L/∂z.</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels,
        int columns, ReadOnlySpan<double> rowWeights, ReadOnlySpan<double> positiveWeights)
    {
        double total = 0, denominator = 0;
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (labels[i] < 0) continue;
            double s = rowWeights.IsEmpty ? 1 : rowWeights[i / columns], p = positiveWeights[i % columns], z = logits[i];
            total += s * (labels[i] == 1 ? p * Softplus(-z) : Softplus(z));
            denominator += s;
            n++;
        }
        var gradient = new double[logits.Length];
        if (denominator > 0)
            for (int i = 0; i < logits.Length; i++)
            {
                if (labels[i] < 0) continue;
                double s = rowWeights.IsEmpty ? 1 : rowWeights[i / columns], p = positiveWeights[i % columns], y = labels[i];
                gradient[i] = s * ((1 + (p - 1) * y) * BinaryCrossEntropyReference.Sigmoid(logits[i]) - p * y) / denominator;
            }
        return (denominator > 0 ? total / denominator : 0, n, denominator, gradient);
    }

    /// <summary>softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^{−|x|}), never overflowing.</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + BinaryCrossEntropyReference.Log1P(Math.Exp(-Math.Abs(x)));
}
