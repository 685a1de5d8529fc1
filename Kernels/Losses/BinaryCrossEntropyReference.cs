namespace Engine.Kernels;

/// <summary>
/// The readable reference of the masked binary cross-entropy with logits (maths: docs/maths.md §19.3), one element at a
/// time in double: what <c>CpuBackend.MaskedBinaryCrossEntropyForward</c> (SIMD) and
/// <c>IlgpuBackend.MaskedBinaryCrossEntropyPartialsKernel</c> compute in blocks and threads.
/// </summary>
public static class BinaryCrossEntropyReference
{
    /// <summary>ℓ(z, y) = max(z, 0) − z·y + log1p(e^{−|z|}) = −y log σ(z) − (1 − y) log(1 − σ(z)), never overflowing.</summary>
    public static double Loss(double z, int y) => Math.Max(z, 0) - z * y + Log1P(Math.Exp(-Math.Abs(z)));

    /// <summary>σ(z) = 1/(1 + e^{−z}) for z ≥ 0, e^{z}/(1 + e^{z}) for z &lt; 0: the exponential never overflows.</summary>
    public static double Sigmoid(double z)
    {
        double e = Math.Exp(-Math.Abs(z));
        return (z >= 0 ? 1 : e) / (1 + e);
    }

    /// <summary>The mean loss over the labelled elements (label ≥ 0), their number, and ∂L/∂zᵢ = (σ(zᵢ) − yᵢ)/max(n, 1)
    /// (0 for an unlabelled element).</summary>
    public static (double Loss, int Count, double[] Gradient) Forward(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels)
    {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
            if (labels[i] >= 0) { sum += Loss(logits[i], labels[i]); n++; }
        var gradient = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++)
            if (labels[i] >= 0) gradient[i] = (Sigmoid(logits[i]) - labels[i]) / Math.Max(n, 1);
        return (sum / Math.Max(n, 1), n, gradient);
    }

    /// <summary>log(1 + x) accurate for small x (Goldberg 1991, Theorem 4): with u = 1 + x rounded, x·log(u)/(u − 1) cancels
    /// the rounding of u; u = 1 means x is below half an ulp of 1 and log1p(x) = x to working precision. (.NET's
    /// <c>double.LogP1</c> is <c>Log(x + 1)</c>, which loses the small terms.) The kernels use the same identity.</summary>
    public static double Log1P(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * (x / (u - 1));
    }
}
