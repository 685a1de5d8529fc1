namespace Engine.Kernels;

/// <summary>
/// The readable reference of the weighted, label-smoothed, masked softmax cross-entropy (maths: docs/maths.md §19.9), one
/// row at a time in double: what <c>CpuBackend.WeightedSoftmaxCrossEntropyForward</c> (SIMD) and
/// <c>IlgpuBackend.WeightedCrossEntropyPartialsKernel</c> compute in chunks and threads. It is PyTorch 1.13's
/// <c>CrossEntropyLoss(weight=w, label_smoothing=ε, ignore_index)</c> with 'mean' reduction, extended by a row weight sᵣ:
/// <code>
///   q_rk = (1 − ε)·w_{yᵣ}·1[k = yᵣ] + (ε/K)·w_k              (the smoothed, class-weighted target of row r)
///   ℓᵣ  = sᵣ·Σ_k q_rk·(−log softmax(zᵣ)_k),   dᵣ = sᵣ·w_{yᵣ}   (labelled rows only: yᵣ ≥ 0)
///   L   = Σᵣ ℓᵣ / D with D = Σᵣ dᵣ;  L = 0 when D = 0
///   ∂L/∂z_rk = sᵣ·(Q_r·p_rk − q_rk)/D,  Q_r = Σ_k q_rk = (1 − ε)·w_{yᵣ} + (ε/K)·Σ_k w_k
/// </code>
/// An empty <c>rowWeights</c> or <c>classWeights</c> means all ones (then D = n, the labelled rows).
/// </summary>
public static class WeightedCrossEntropyReference
{
    /// <summary>The loss, the labelled count n, the weighted denominator D and ∂L/∂z ([batch × classes], 0 on unlabelled rows).</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels,
        int classes, ReadOnlySpan<double> rowWeights, ReadOnlySpan<double> classWeights, double smoothing)
    {
        int batch = labels.Length;
        double classWeightSum = 0;
        for (int k = 0; k < classes; k++) classWeightSum += ClassWeight(classWeights, k);
        double total = 0, denominator = 0;
        int n = 0;
        var probabilities = new double[logits.Length];
        for (int r = 0; r < batch; r++)
        {
            var z = logits.Slice(r * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double v in z) max = Math.Max(max, v);
            double sum = 0;
            for (int k = 0; k < classes; k++) sum += Math.Exp(z[k] - max);
            double logSum = Math.Log(sum);
            for (int k = 0; k < classes; k++) probabilities[r * classes + k] = Math.Exp(z[k] - max - logSum);
            int y = labels[r];
            if (y < 0) continue;
            double s = rowWeights.IsEmpty ? 1 : rowWeights[r];
            double row = 0;
            for (int k = 0; k < classes; k++)
                row += Target(y, k, classes, classWeights, smoothing) * -(z[k] - max - logSum);
            total += s * row;
            denominator += s * ClassWeight(classWeights, y);
            n++;
        }
        var gradient = new double[logits.Length];
        if (denominator > 0)
            for (int r = 0; r < batch; r++)
            {
                int y = labels[r];
                if (y < 0) continue;
                double s = rowWeights.IsEmpty ? 1 : rowWeights[r];
                double q = (1 - smoothing) * ClassWeight(classWeights, y) + smoothing / classes * classWeightSum;
                for (int k = 0; k < classes; k++)
                    gradient[r * classes + k] = s * (q * probabilities[r * classes + k] - Target(y, k, classes, classWeights, smoothing)) / denominator;
            }
        return (denominator > 0 ? total / denominator : 0, n, denominator, gradient);
    }

    /// <summary>q_k = (1 − ε)·w_y·1[k = y] + (ε/K)·w_k.</summary>
    public static double Target(int y, int k, int classes, ReadOnlySpan<double> classWeights, double smoothing) =>
        (k == y ? (1 - smoothing) * ClassWeight(classWeights, y) : 0) + smoothing / classes * ClassWeight(classWeights, k);

    private static double ClassWeight(ReadOnlySpan<double> classWeights, int k) => classWeights.IsEmpty ? 1 : classWeights[k];
}
