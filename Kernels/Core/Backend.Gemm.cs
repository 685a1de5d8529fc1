namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// General matrix multiply with a fused epilogue:
    /// <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c>.
    /// op(A) is m×k: A is stored m×k, or k×m when <paramref name="transA"/>.
    /// op(B) is k×n: B is stored k×n, or n×k when <paramref name="transB"/>.
    /// <paramref name="bias"/> (length n, or empty) is added to every row. A dense layer's forward is
    /// <c>Gemm(false, true, batch, out, in, 1, X, W, 0, Y, b, act)</c>.
    /// When <paramref name="beta"/> is 0, C is not read (it may hold garbage, even NaN); when k is 0 or
    /// <paramref name="alpha"/> is 0, A and B are not read. C must not overlap A, B or the bias.
    /// </summary>
    public abstract void Gemm(bool transA, bool transB, int m, int n, int k,
        T alpha, View<T> a, View<T> b, T beta, View<T> c,
        View<T> bias = default, Activation activation = Activation.Identity);

    /// <summary>Shape validation shared by all GEMM implementations.</summary>
    protected void CheckGemm(int m, int n, int k, View<T> a, View<T> b, View<T> c, View<T> bias, Activation activation = Activation.Identity)
    {
        if (!Check.IsDefined(activation))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        Check.NonNegative(m, nameof(m)); Check.NonNegative(n, nameof(n)); Check.NonNegative(k, nameof(k));
        Check.Length(a, (long)m * k, "A");
        Check.Length(b, (long)k * n, "B");
        Check.Length(c, (long)m * n, "C");
        if (!bias.IsEmpty) Check.Length(bias, n, "bias");
        Check.Owned(this, a, "A"); Check.Owned(this, b, "B"); Check.Owned(this, c, "C"); Check.Owned(this, bias, "bias");
    }
}
