using ILGPU;

namespace Engine.Kernels;

/// <summary>
/// float64 log, exp and cos(2πu) from additions, multiplications, one division and bit moves only, for the
/// single-thread ILGPU kernels that work in float64 (GLS's geometric mean, RLW's softmax of normals). ILGPU's own
/// <c>Math.Log</c>/<c>Math.Exp</c>/<c>Math.Cos</c> on CUDA are CORDIC routines that pass their state by reference, which
/// gives the kernel a stack frame in local memory (64 B in the GLS kernel, 112 B in the RLW kernel); these compile to
/// registers only (SassTests). Accuracy: within a few ulps of .NET's <see cref="Math"/> (DeviceMathTests), the same
/// code on every backend. Derivations: docs/maths.md §18.4 (after RLW).
/// </summary>
public static class DeviceMath
{
    private const double Ln2Hi = 6.93147180369123816490e-01; // ln 2 = Ln2Hi + Ln2Lo, Ln2Hi with 32 trailing zero bits
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double Log2E = 1.4426950408889634074;
    private const double Sqrt2 = 1.4142135623730950488;

    /// <summary>2^k for −1022 ≤ k ≤ 1023, by writing the exponent bits.</summary>
    private static double Pow2(int k) => Interop.IntAsFloat((ulong)(k + 1023) << 52);

    /// <summary>
    /// eˣ = 2ᵏ·eʳ with k = round(x/ln 2) and r = x − k·ln 2 (Cody–Waite, |r| ≤ ln 2 / 2 ≈ 0.347), eʳ by its Taylor series to
    /// r¹³/13! (the next term is below 4·10⁻¹⁸). Overflow to +∞ above 709.79, 0 below −745.2, NaN stays NaN.
    /// </summary>
    public static double Exp(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x > 709.782712893384) return double.PositiveInfinity;
        if (x < -745.2) return 0.0;
        double kd = Math.Floor(x * Log2E + 0.5);
        int k = (int)kd;
        double r = (x - kd * Ln2Hi) - kd * Ln2Lo;
        double p = 1.0 / 6227020800.0;                        // 1/13!
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        // 2ᵏ in two factors when it is below the normal range (the result is then subnormal).
        return k < -1021 ? p * Pow2(k + 54) * Pow2(-54) : k > 1023 ? p * Pow2(k - 1) * 2.0 : p * Pow2(k);
    }

    /// <summary>
    /// ln x = e·ln 2 + ln m with x = m·2ᵉ, m in [√½, √2) (read from the bits; subnormals scaled by 2⁵⁴ first), and
    /// ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1), |s| ≤ 0.1716, to s²³/23 (the next term is below
    /// 10⁻¹⁹). ln 0 = −∞, ln of a negative number or NaN = NaN, ln ∞ = ∞.
    /// </summary>
    public static double Log(double x)
    {
        if (double.IsNaN(x) || x < 0) return double.NaN;
        if (x == 0) return double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return x;
        int e = 0;
        if (x < 2.2250738585072014e-308) { x *= 18014398509481984.0; e = -54; } // 2⁵⁴
        ulong bits = Interop.FloatAsInt(x);
        e += (int)((bits >> 52) & 0x7FF) - 1023;
        double m = Interop.IntAsFloat((bits & 0x000FFFFFFFFFFFFFUL) | 0x3FF0000000000000UL);
        if (m > Sqrt2) { m *= 0.5; e++; }
        double s = (m - 1.0) / (m + 1.0), s2 = s * s;
        double p = 1.0 / 23;
        p = p * s2 + 1.0 / 21;
        p = p * s2 + 1.0 / 19;
        p = p * s2 + 1.0 / 17;
        p = p * s2 + 1.0 / 15;
        p = p * s2 + 1.0 / 13;
        p = p * s2 + 1.0 / 11;
        p = p * s2 + 1.0 / 9;
        p = p * s2 + 1.0 / 7;
        p = p * s2 + 1.0 / 5;
        p = p * s2 + 1.0 / 3;
        double logM = 2.0 * s + 2.0 * s * s2 * p;
        return e * Ln2Hi + (e * Ln2Lo + logM);
    }

    /// <summary>
    /// cos(2πu) for any finite u: t = u − round(u) in [−½, ½], q = round(4t), r = 2π(t − q/4) in [−π/4, π/4], then by
    /// the quadrant q: cos r, −sin r, −cos r or sin r (q = 0, 1, ±2, −1), each by its Taylor series to r¹⁸ / r¹⁷ (the next
    /// terms are below 10⁻¹⁸).
    /// </summary>
    public static double Cos2Pi(double u)
    {
        double t = u - Math.Floor(u + 0.5);
        double q = Math.Floor(4.0 * t + 0.5);
        double r = 2.0 * Math.PI * (t - 0.25 * q), r2 = r * r;
        double c = 1.0 / 6402373705728000.0;                  // 1/18!
        c = c * -r2 + 1.0 / 20922789888000.0;                 // 1/16!
        c = c * -r2 + 1.0 / 87178291200.0;
        c = c * -r2 + 1.0 / 479001600.0;
        c = c * -r2 + 1.0 / 3628800.0;
        c = c * -r2 + 1.0 / 40320.0;
        c = c * -r2 + 1.0 / 720.0;
        c = c * -r2 + 1.0 / 24.0;
        c = c * -r2 + 0.5;
        c = c * -r2 + 1.0;
        double s = 1.0 / 355687428096000.0;                   // 1/17!
        s = s * -r2 + 1.0 / 1307674368000.0;                  // 1/15!
        s = s * -r2 + 1.0 / 6227020800.0;
        s = s * -r2 + 1.0 / 39916800.0;
        s = s * -r2 + 1.0 / 362880.0;
        s = s * -r2 + 1.0 / 5040.0;
        s = s * -r2 + 1.0 / 120.0;
        s = s * -r2 + 1.0 / 6.0;
        s = s * -r2 + 1.0;
        s *= r;
        int quadrant = (int)q & 3;                            // q in {−2, …, 2}: −1 ≡ 3, −2 ≡ 2
        return quadrant == 0 ? c : quadrant == 1 ? -s : quadrant == 2 ? -c : s;
    }
}
