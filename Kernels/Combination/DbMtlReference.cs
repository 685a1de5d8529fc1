namespace Engine.Kernels;

/// <summary>
/// The readable float64 reference of DB-MTL's gradient step (Lin et al. 2023, "Dual-Balancing for Multi-Task Learning";
/// LibMTL <c>DB_MTL.backward</c>), one element at a time. With the weighted task gradients g̃ᵢ = wᵢgᵢ (under
/// <c>db-mtl-l</c>, wᵢ = 1/(Lᵢ + 1e-8), so g̃ᵢ = ∇log(Lᵢ + 1e-8)) and step s = 1, 2, …:
/// <code>
///   bₛ  = β / s^σ                          (σ = beta-sigma; LibMTL's beta/step**beta_sigma)
///   ĝᵢ ← g̃ᵢ + bₛ(ĝᵢ − g̃ᵢ)                  (ĝᵢ = 0 before the first step, so ĝᵢ = (1 − β)g̃ᵢ after it)
///   uᵢ  = ‖ĝᵢ‖,  αᵢ = maxⱼ uⱼ / (uᵢ + 1e-8)
///   update = Σᵢ αᵢ ĝᵢ                       (every ĝᵢ rescaled to the largest norm)
/// </code>
/// The kernels (<see cref="Backend{T}.DbMtlAverage"/>, which also sums the squared norms, <see cref="Backend{T}.DbMtlCoefficients"/>,
/// <see cref="Backend{T}.LinearCombination"/>) compute the same in three launches, two passes over the averages. Maths:
/// docs/maths.md §18.15.
/// </summary>
public static class DbMtlReference
{
    /// <summary>LibMTL's 1e-8 added to each norm before dividing (and to each loss inside the log).</summary>
    public const double Epsilon = 1e-8;

    /// <summary>One step: updates <paramref name="average"/> (T rows ĝ, zero at the start) in place from the gradients
    /// <paramref name="gradients"/> (T rows g) and the weights <paramref name="weights"/>, and returns Σᵢ αᵢĝᵢ.
    /// <paramref name="step"/> is s, counted from 1.</summary>
    public static double[] Step(double[][] gradients, double[] weights, double[][] average, long step, double beta, double betaSigma)
    {
        int tasks = gradients.Length, length = gradients[0].Length;
        var squaredNorms = Average(gradients, weights, average, beta / Math.Pow(step, betaSigma));
        var norms = squaredNorms.Select(Math.Sqrt).ToArray();
        double largest = norms.Max();
        var update = new double[length];
        for (int i = 0; i < tasks; i++)
        {
            double alpha = largest / (norms[i] + Epsilon);
            for (int k = 0; k < length; k++) update[k] += alpha * average[i][k];
        }
        return update;
    }

    /// <summary>The moving average with rate <paramref name="rate"/> (bₛ), in place, and in the same loop the squared norms
    /// ‖ĝᵢ‖² of the new averages — what <see cref="Backend{T}.DbMtlAverage"/> computes in one pass.</summary>
    public static double[] Average(double[][] gradients, double[] weights, double[][] average, double rate)
    {
        int tasks = gradients.Length, length = gradients[0].Length;
        var squares = new double[tasks];
        for (int i = 0; i < tasks; i++)
            for (int k = 0; k < length; k++)
            {
                double g = weights[i] * gradients[i][k];
                average[i][k] = g + rate * (average[i][k] - g);
                squares[i] += average[i][k] * average[i][k];
            }
        return squares;
    }
}
