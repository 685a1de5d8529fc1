namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// <paramref name="count"/> GEMMs with the fused epilogue of <see cref="Gemm"/>, in one launch:
    /// for e = 0…count−1, <c>Cₑ = act(alpha·op(Aₑ)·op(Bₑ) + beta·Cₑ + biasₑ)</c> with
    /// <c>Aₑ = a[e·strideA …]</c>, <c>Bₑ = b[e·strideB …]</c>, <c>Cₑ = c[e·strideC …]</c>, <c>biasₑ = bias[e·strideBias …]</c>,
    /// each stored densely as in <see cref="Gemm"/> (op(A) m×k, op(B) k×n, C m×n, bias n). A stride of 0 repeats
    /// the operand for every e (one input read by every expert; the Cₑ must not overlap, so strideC ≥ m·n).
    /// The E experts of a mixture-of-experts layer are one call: <c>BatchedGemm(false, true, batch, out, in, 1,
    /// X, 0 (or batch·in), W, out·in, 0, Y, batch·out, E, b, out, act)</c>. Beta 0 does not read C.
    /// </summary>
    public abstract void BatchedGemm(bool transA, bool transB, int m, int n, int k,
        T alpha, View<T> a, int strideA, View<T> b, int strideB, T beta, View<T> c, int strideC, int count,
        View<T> bias = default, int strideBias = 0, Activation activation = Activation.Identity);

    /// <summary>
    /// Row-wise softmax, max-shifted: <c>y[r, j] = exp(x[r, j] − mᵣ) / Σₖ exp(x[r, k] − mᵣ)</c>, <c>mᵣ = maxₖ x[r, k]</c>;
    /// x and y are [rows × cols] (y may be x).
    /// </summary>
    public abstract void SoftmaxRows(View<T> x, int rows, int cols, View<T> y);

    /// <summary>
    /// The softmax's vector–Jacobian product from its output y: <c>dx[r, j] (+)= y[r, j]·(dy[r, j] − Σₖ dy[r, k]·y[r, k])</c>.
    /// dx must not overlap y or dy.
    /// </summary>
    public abstract void SoftmaxRowsBackward(View<T> y, View<T> dy, int rows, int cols, View<T> dx, bool accumulate);

    /// <summary>
    /// The gated mixture of <paramref name="experts"/> outputs: <c>y[b, h] = Σₑ g[b, e]·x[e, b, h]</c>, with x expert-major
    /// [experts × batch × width], g [batch × experts], y [batch × width] (overwritten).
    /// </summary>
    public abstract void Mixture(View<T> x, View<T> g, int experts, int batch, int width, View<T> y);

    /// <summary>The mixture's gradient with respect to the experts' outputs: <c>dx[e, b, h] (+)= g[b, e]·dy[b, h]</c>.</summary>
    public abstract void MixtureBackwardExperts(View<T> g, View<T> dy, int experts, int batch, int width, View<T> dx, bool accumulate);

    /// <summary>The mixture's gradient with respect to the gates: <c>dg[b, e] (+)= Σₕ dy[b, h]·x[e, b, h]</c>.</summary>
    public abstract void MixtureBackwardGates(View<T> x, View<T> dy, int experts, int batch, int width, View<T> dg, bool accumulate);
}
