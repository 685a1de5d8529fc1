using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The DSelect-k gate kernels on ILGPU (maths: docs/maths.md §17.5; readable reference: <see cref="DSelectReference"/>),
/// implicitly grouped, one thread per output element: the smooth-step and its derivative and the entropy terms are
/// elementwise; a selector weight r[i, b, e] is a product of m factors; ds[b, i, j] sums 2^m products of m − 1 factors
/// (m ≤ <see cref="DSelectReference.MaxBits"/>, so a thread's loop is short).
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, float, int, int>? _smoothStep;
    private Action<AcceleratorStream, Index1D, Dense, Dense, int, int, int>? _selectors;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int, int>? _selectorsBackward;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, float>? _entropyTerms;

    /// <inheritdoc/>
    public override void SmoothStep(View<float> x, float gamma, View<float> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        DSelectChecks.Gamma(gamma);
        if (x.Length == 0) return;
        _smoothStep ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, float, int, int>(SmoothStepKernel);
        _smoothStep(Launched(), x.Length, x.Ilgpu(), x.Ilgpu(), y.Ilgpu(), gamma, 0, 0);
    }

    /// <inheritdoc/>
    public override void SmoothStepBackward(View<float> x, View<float> dy, float gamma, View<float> dx, bool accumulate)
    {
        DSelectChecks.SmoothStepBackward(this, x, dy, dx);
        DSelectChecks.Gamma(gamma);
        if (x.Length == 0) return;
        _smoothStep ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, float, int, int>(SmoothStepKernel);
        _smoothStep(Launched(), x.Length, x.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), gamma, 1, accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void Selectors(View<float> s, int rows, int selectors, int bits, View<float> r)
    {
        DSelectChecks.Selectors(this, s, nameof(s), rows, selectors, bits, r, nameof(r));
        _selectors ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, int, int, int>(SelectorsKernel);
        _selectors(Launched(), r.Length, s.Ilgpu(), r.Ilgpu(), rows, selectors, bits);
    }

    /// <inheritdoc/>
    public override void SelectorsBackward(View<float> s, View<float> dr, int rows, int selectors, int bits, View<float> ds, bool accumulate)
    {
        DSelectChecks.SelectorsBackward(this, s, dr, rows, selectors, bits, ds);
        _selectorsBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, int, int, int>(SelectorsBackwardKernel);
        _selectorsBackward(Launched(), ds.Length, s.Ilgpu(), dr.Ilgpu(), ds.Ilgpu(), rows, selectors, bits, accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void EntropyTerms(View<float> x, float scale, View<float> terms, View<float> derivative)
    {
        DSelectChecks.EntropyTerms(this, x, terms, derivative);
        if (x.Length == 0) return;
        _entropyTerms ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, float>(EntropyTermsKernel);
        _entropyTerms(Launched(), x.Length, x.Ilgpu(), terms.Ilgpu(), derivative.Ilgpu(), scale);
    }

    /// <summary>Element i. Forward (backward = 0): out = S(x). Backward: out (+)= dy·S′(x).</summary>
    internal static void SmoothStepKernel(Index1D i, Dense x, Dense dy, Dense output, float gamma, int backward, int accumulate)
    {
        float t = x[i], half = 0.5f * gamma;
        float a3 = -2f / (gamma * gamma * gamma), a1 = 3f / (2f * gamma);
        if (backward == 0)
        {
            output[i] = t <= -half ? 0f : t >= half ? 1f : t * (a3 * t * t + a1) + 0.5f;
            return;
        }
        float d = (t > -half && t < half ? 3f * a3 * t * t + a1 : 0f) * dy[i];
        output[i] = accumulate != 0 ? output[i] + d : d;
    }

    /// <summary>Element i = (sel, b, e) of r [k·rows × 2^m]: r = Πⱼ (bit j of e ? s[b, sel, j] : 1 − s[b, sel, j]).</summary>
    internal static void SelectorsKernel(Index1D i, Dense s, Dense r, int rows, int selectors, int bits)
    {
        int experts = 1 << bits, e = i % experts, q = i / experts, b = q % rows, sel = q / rows;
        int at = (b * selectors + sel) * bits;
        float p = 1f;
        for (int j = 0; j < bits; j++)
        {
            float sj = s[at + j];
            p *= ((e >> (bits - 1 - j)) & 1) != 0 ? sj : 1f - sj;
        }
        r[i] = p;
    }

    /// <summary>Element i = (b, sel, j) of ds: Σₑ dr[sel, b, e]·(bit j ? 1 : −1)·Π_{l≠j}(bit l ? s_l : 1 − s_l).</summary>
    internal static void SelectorsBackwardKernel(Index1D i, Dense s, Dense dr, Dense ds, int rows, int selectors, int bits, int accumulate)
    {
        int experts = 1 << bits, j = i % bits, q = i / bits, sel = q % selectors, b = q / selectors;
        int at = q * bits, row = (sel * rows + b) * experts;
        float sum = 0f;
        for (int e = 0; e < experts; e++)
        {
            float p = ((e >> (bits - 1 - j)) & 1) != 0 ? 1f : -1f;
            for (int l = 0; l < bits; l++)
            {
                if (l == j) continue;
                float sl = s[at + l];
                p *= ((e >> (bits - 1 - l)) & 1) != 0 ? sl : 1f - sl;
            }
            sum += dr[row + e] * p;
        }
        ds[i] = accumulate != 0 ? ds[i] + sum : sum;
    }

    /// <summary>Element i: terms = −x·log(x + ε), derivative = scale·(−log(x + ε) − x/(x + ε)).</summary>
    internal static void EntropyTermsKernel(Index1D i, Dense x, Dense terms, Dense derivative, float scale)
    {
        float v = x[i], shifted = v + (float)DSelectReference.Epsilon, log = XMath.Log(shifted);
        terms[i] = -v * log;
        derivative[i] = -scale * (log + v / shifted);
    }
}
