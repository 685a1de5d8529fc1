namespace Engine.Kernels;

/// <summary>
/// The readable reference of the row-weighted masked mean squared error (maths: docs/maths.md §19.11), one element at a
/// time in double. A [rows × columns] prediction, a NaN target = no label (mᵢ = 0), a weight sᵣ ≥ 0 per row:
/// <code>
///   L = Σᵢ sᵣ mᵢ (pᵢ − tᵢ)² / D,   D = Σᵢ sᵣ mᵢ   (L = 0 when D = 0)
///   ∂L/∂pᵢ = 2 sᵣ mᵢ (pᵢ − tᵢ) / D  (0 everywhere when D = 0)
/// </code>
/// Element i belongs to row r = i / columns. With s ≡ 1, D = n and this is §19.1's masked MSE.
/// </summary>
public static class WeightedMseReference
{
    /// <summary>The loss, the labelled count n, the denominator D and ∂L/∂p.</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> prediction,
        ReadOnlySpan<double> target, ReadOnlySpan<double> rowWeights)
    {
        int columns = prediction.Length / rowWeights.Length, n = 0;
        double total = 0, denominator = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            if (double.IsNaN(target[i])) continue;
            double s = rowWeights[i / columns], d = prediction[i] - target[i];
            total += s * d * d;
            denominator += s;
            n++;
        }
        var gradient = new double[prediction.Length];
        if (denominator > 0)
            for (int i = 0; i < prediction.Length; i++)
                if (!double.IsNaN(target[i]))
                    gradient[i] = 2 * rowWeights[i / columns] * (prediction[i] - target[i]) / denominator;
        return (denominator > 0 ? total / denominator : 0, n, denominator, gradient);
    }
}
