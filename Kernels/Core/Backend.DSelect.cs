namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// The DSelect-k smooth-step, elementwise: <c>y = S(x)</c>, S(t) = 0 for t ≤ −γ/2, 1 for t ≥ γ/2, else
    /// −2t³/γ³ + 3t/(2γ) + 1/2 (exactly 0 and 1 outside the band). y may be x. Reference: <see cref="DSelectReference.SmoothStep"/>.
    /// </summary>
    public abstract void SmoothStep(View<T> x, T gamma, View<T> y);

    /// <summary>From the input x: <c>dx (+)= dy·S′(x)</c>, S′(t) = 3/(2γ) − 6t²/γ³ inside the band, 0 outside.</summary>
    public abstract void SmoothStepBackward(View<T> x, View<T> dy, T gamma, View<T> dx, bool accumulate);

    /// <summary>
    /// The k single-expert selectors of DSelect-k: s is [rows × k·m] (the smooth-step of each selector's m code logits),
    /// r is selector-major [k·rows × 2^m]: <c>r[i, b, e] = Πⱼ (bit j of e ? s[b, i, j] : 1 − s[b, i, j])</c>, bit 0 the
    /// most significant. Reference: <see cref="DSelectReference.Selectors"/>.
    /// </summary>
    public abstract void Selectors(View<T> s, int rows, int selectors, int bits, View<T> r);

    /// <summary>The selectors' vector–Jacobian product: <c>ds[b, i, j] (+)= Σₑ dr[i, b, e]·±Π_{l≠j}(…)</c>
    /// (<see cref="DSelectReference.SelectorsBackward"/>). ds must not overlap s or dr.</summary>
    public abstract void SelectorsBackward(View<T> s, View<T> dr, int rows, int selectors, int bits, View<T> ds, bool accumulate);

    /// <summary>
    /// The entropy regulariser's elementwise parts: <c>terms[i] = −x[i]·log(x[i] + ε)</c> and
    /// <c>derivative[i] = scale·(−log(x[i] + ε) − x[i]/(x[i] + ε))</c>, ε = <see cref="DSelectReference.Epsilon"/>
    /// (the sum of the terms is the entropy; the derivative, times the upstream scalar, its gradient).
    /// </summary>
    public abstract void EntropyTerms(View<T> x, T scale, View<T> terms, View<T> derivative);
}
