namespace Engine.Kernels;

/// <summary>
/// The readable float64 reference of the DSelect-k gate kernels (Hazimeh et al., NeurIPS 2021; docs/maths.md §17.5),
/// one element at a time: what <c>CpuBackend.SmoothStep</c>/<c>Selectors</c>/<c>EntropyTerms</c> (SIMD) and
/// <c>IlgpuBackend.SmoothStepKernel</c>/<c>SelectorsKernel</c>/<c>EntropyTermsKernel</c> compute in blocks and threads.
/// Layouts: the smooth-step outputs s are [rows × k·m] (row b, selector i, bit j at i·m + j); the selectors' outputs r are
/// selector-major [k·rows × 2^m] (selector i's rows are block i), the layout <c>Backend.Mixture</c> reads as k "experts".
/// </summary>
public static class DSelectReference
{
    /// <summary>The entropy regulariser's ε: h(r) = −Σₑ rₑ·log(rₑ + ε), as the reference code (EPSILON = 1e-6).</summary>
    public const double Epsilon = 1e-6;

    /// <summary>Most code bits m (2^m experts) the kernels take: the CPU path keeps a 2^m scratch row on the stack.</summary>
    public const int MaxBits = 10;

    /// <summary>S(t) = 0 for t ≤ −γ/2, 1 for t ≥ γ/2, else −2t³/γ³ + 3t/(2γ) + 1/2 (the paper's eq. 3).</summary>
    public static double SmoothStep(double t, double gamma) =>
        t <= -gamma / 2 ? 0 : t >= gamma / 2 ? 1 : -2 / (gamma * gamma * gamma) * t * t * t + 3 / (2 * gamma) * t + 0.5;

    /// <summary>S′(t) = 3/(2γ) − 6t²/γ³ inside (−γ/2, γ/2), 0 outside (continuous: both sides are 0 at ±γ/2).</summary>
    public static double SmoothStepDerivative(double t, double gamma) =>
        t <= -gamma / 2 || t >= gamma / 2 ? 0 : 3 / (2 * gamma) - 6 * t * t / (gamma * gamma * gamma);

    /// <summary>Bit j (0 = most significant, as numpy's <c>binary_repr</c>) of expert e's m-bit code.</summary>
    public static int Bit(int e, int j, int bits) => (e >> (bits - 1 - j)) & 1;

    /// <summary>r[i, b, e] = Πⱼ (bit j of e ? s[b, i, j] : 1 − s[b, i, j]): selector i's weight on expert e.</summary>
    public static double[] Selectors(double[] s, int rows, int selectors, int bits)
    {
        int experts = 1 << bits;
        var r = new double[selectors * rows * experts];
        for (int i = 0; i < selectors; i++)
            for (int b = 0; b < rows; b++)
                for (int e = 0; e < experts; e++)
                {
                    double p = 1;
                    for (int j = 0; j < bits; j++)
                    {
                        double sj = s[b * selectors * bits + i * bits + j];
                        p *= Bit(e, j, bits) == 1 ? sj : 1 - sj;
                    }
                    r[(i * rows + b) * experts + e] = p;
                }
        return r;
    }

    /// <summary>ds[b, i, j] = Σₑ dr[i, b, e]·(bit j of e ? 1 : −1)·Π_{l≠j} (bit l of e ? s[b, i, l] : 1 − s[b, i, l]).</summary>
    public static double[] SelectorsBackward(double[] s, double[] dr, int rows, int selectors, int bits)
    {
        int experts = 1 << bits;
        var ds = new double[rows * selectors * bits];
        for (int b = 0; b < rows; b++)
            for (int i = 0; i < selectors; i++)
                for (int j = 0; j < bits; j++)
                {
                    double sum = 0;
                    for (int e = 0; e < experts; e++)
                    {
                        double p = Bit(e, j, bits) == 1 ? 1 : -1;
                        for (int l = 0; l < bits; l++)
                        {
                            if (l == j) continue;
                            double sl = s[b * selectors * bits + i * bits + l];
                            p *= Bit(e, l, bits) == 1 ? sl : 1 - sl;
                        }
                        sum += dr[(i * rows + b) * experts + e] * p;
                    }
                    ds[b * selectors * bits + i * bits + j] = sum;
                }
        return ds;
    }

    /// <summary>One element of the entropy: −r·log(r + ε).</summary>
    public static double EntropyTerm(double r) => -r * Math.Log(r + Epsilon);

    /// <summary>Its derivative: −log(r + ε) − r/(r + ε).</summary>
    public static double EntropyDerivative(double r) => -Math.Log(r + Epsilon) - r / (r + Epsilon);
}
