namespace Engine.Kernels;

/// <summary>
/// The readable reference of the row-weighted masked smooth-L1 loss, L1 (β = 0, scale 1) and Huber (β = δ, scale δ)
/// (maths: docs/maths.md §19.5, §19.11), one element at a time in double. A [rows × columns] prediction, a NaN target =
/// no label (mᵢ = 0), a weight sᵣ ≥ 0 per row, dᵢ = pᵢ − tᵢ:
/// <code>
///   L = scale·Σᵢ sᵣ mᵢ sβ(dᵢ) / D,   D = Σᵢ sᵣ mᵢ   (L = 0 when D = 0)
///   sβ(d) = d²/(2β) for |d| &lt; β, |d| − β/2 otherwise;   s′β(d) = d/β for |d| &lt; β, sign(d) otherwise (sign(0) = 0)
///   ∂L/∂pᵢ = scale·sᵣ mᵢ s′β(dᵢ) / D  (0 everywhere when D = 0)
/// </code>
/// Element i belongs to row r = i / columns. With s ≡ 1, D = n and this is §19.5's masked loss.
/// </summary>
public static class WeightedSmoothL1Reference
{
    /// <summary>The loss, the labelled count n, the denominator D and ∂L/∂p.</summary>
    public static (double Loss, int Count, double WeightSum, double[] Gradient) Forward(ReadOnlySpan<double> prediction,
        ReadOnlySpan<double> target, ReadOnlySpan<double> rowWeights, double beta, double scale)
    {
        int columns = prediction.Length / rowWeights.Length, n = 0;
        double total = 0, denominator = 0;
        for (int i = 0; i < prediction.Length; i++)
        {
            if (double.IsNaN(target[i])) continue;
            double s = rowWeights[i / columns], a = Math.Abs(prediction[i] - target[i]);
            total += s * (a < beta ? a * a / (2 * beta) : a - beta / 2);
            denominator += s;
            n++;
        }
        var gradient = new double[prediction.Length];
        if (denominator > 0)
            for (int i = 0; i < prediction.Length; i++)
            {
                if (double.IsNaN(target[i])) continue;
                double d = prediction[i] - target[i];
                gradient[i] = scale * rowWeights[i / columns] * (Math.Abs(d) < beta ? d / beta : Math.Sign(d)) / denominator;
            }
        return (denominator > 0 ? scale * total / denominator : 0, n, denominator, gradient);
    }
}
