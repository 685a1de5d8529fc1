namespace Engine.Kernels;

/// <summary>
/// The readable reference of the masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>; maths:
/// docs/maths.md §19.7), one element at a time in double: what <c>CpuBackend.MaskedProbabilityCrossEntropyForward</c>
/// (SIMD) and <c>IlgpuBackend.MaskedProbabilityCrossEntropyPartialsKernel</c> compute in blocks and threads.
/// </summary>
public static class ProbabilityCrossEntropyReference
{
    /// <summary>PyTorch's clamp of each log: a probability of exactly 0 (or 1 against a label 0) costs 100, not ∞.</summary>
    public const double LogFloor = -100;

    /// <summary>PyTorch's floor of p(1 − p) in the backward (its <c>EPSILON</c>, the float 1e-12, also in double): the
    /// gradient stays finite at p = 0 and p = 1.</summary>
    public const double VarianceFloor = (double)1e-12f;

    /// <summary>ℓ(p, y) = −[y·max(log p, −100) + (1 − y)·max(log1p(−p), −100)]. log1p(−p) keeps the digits log(1 − p) loses
    /// for small p (PyTorch 1.13 rounds 1 − p first: the two differ by a relative 1e-16/p).</summary>
    public static double Loss(double p, int y) =>
        -(y * Math.Max(Math.Log(p), LogFloor) + (1 - y) * Math.Max(BinaryCrossEntropyReference.Log1P(-p), LogFloor));

    /// <summary>∂ℓ/∂p as PyTorch's fused backward computes it: (p − y)/max(p(1 − p), 10⁻¹²) (the exact derivative
    /// wherever no clamp is active).</summary>
    public static double Gradient(double p, int y) => (p - y) / Math.Max(p * (1 - p), VarianceFloor);

    /// <summary>Sample weights (maths §19.11): L = Σ sᵣℓᵢ / D, D = Σ sᵣ over the labelled elements (element i in row
    /// i / columns, columns = length / rowWeights.Length), ∂L/∂pᵢ = sᵣ·∂ℓ/∂pᵢ / D; L = 0 and ∂L = 0 when D = 0.</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels,
        ReadOnlySpan<double> rowWeights)
    {
        int columns = probabilities.Length / rowWeights.Length, n = 0;
        double sum = 0, denominator = 0;
        for (int i = 0; i < probabilities.Length; i++)
            if (labels[i] >= 0) { sum += rowWeights[i / columns] * Loss(probabilities[i], labels[i]); denominator += rowWeights[i / columns]; n++; }
        var gradient = new double[probabilities.Length];
        if (denominator > 0)
            for (int i = 0; i < probabilities.Length; i++)
                if (labels[i] >= 0) gradient[i] = rowWeights[i / columns] * Gradient(probabilities[i], labels[i]) / denominator;
        return (denominator > 0 ? sum / denominator : 0, n, denominator, gradient);
    }

    /// <summary>The mean loss over the labelled elements (label ≥ 0), their number, and ∂L/∂pᵢ (0 when unlabelled).</summary>
    public static (double Loss, int Count, double[] Gradient) Forward(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels)
    {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < probabilities.Length; i++)
            if (labels[i] >= 0) { sum += Loss(probabilities[i], labels[i]); n++; }
        var gradient = new double[probabilities.Length];
        for (int i = 0; i < probabilities.Length; i++)
            if (labels[i] >= 0) gradient[i] = Gradient(probabilities[i], labels[i]) / Math.Max(n, 1);
        return (sum / Math.Max(n, 1), n, gradient);
    }
}
