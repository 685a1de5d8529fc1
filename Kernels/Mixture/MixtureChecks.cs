namespace Engine.Kernels;

/// <summary>Argument checks of the mixture-of-experts kernels (<see cref="Backend{T}.BatchedGemm"/>, the softmax over
/// experts, the gated mixture), shared by both backends so both throw the same exception naming the operand.</summary>
internal static class MixtureChecks
{
    public static void BatchedGemm<T>(Backend backend, int m, int n, int k, View<T> a, int strideA, View<T> b, int strideB,
        View<T> c, int strideC, int count, View<T> bias, int strideBias, Activation activation) where T : unmanaged
    {
        KernelChecks.Activation(activation);
        Check.NonNegative(m, nameof(m)); Check.NonNegative(n, nameof(n)); Check.NonNegative(k, nameof(k));
        Check.Positive(count, nameof(count));
        Check.NonNegative(strideA, nameof(strideA)); Check.NonNegative(strideB, nameof(strideB)); Check.NonNegative(strideBias, nameof(strideBias));
        if (count > 1 && strideC < (long)m * n)
            throw new ArgumentOutOfRangeException(nameof(strideC), strideC, $"strideC must be at least m·n = {(long)m * n} so the {count} outputs do not overlap.");
        Check.AtLeast(a, (long)(count - 1) * strideA + (long)m * k, "A");
        Check.AtLeast(b, (long)(count - 1) * strideB + (long)k * n, "B");
        Check.AtLeast(c, (long)(count - 1) * strideC + (long)m * n, "C");
        if (!bias.IsEmpty) Check.AtLeast(bias, (long)(count - 1) * strideBias + n, "bias");
        Check.Owned(backend, a, "A"); Check.Owned(backend, b, "B"); Check.Owned(backend, c, "C"); Check.Owned(backend, bias, "bias");
        KernelChecks.NoPartialOverlap(a, "A", c, "C");
        KernelChecks.NoPartialOverlap(b, "B", c, "C");
        if (a == c || b == c) throw new ArgumentException("C must not be A or B.", "C");
    }

    public static void Softmax<T>(Backend backend, View<T> x, string xName, int rows, int cols, View<T> y, string yName) where T : unmanaged
    {
        Check.Positive(rows, nameof(rows)); Check.Positive(cols, nameof(cols));
        Check.Length(x, (long)rows * cols, xName);
        Check.Length(y, (long)rows * cols, yName);
        KernelChecks.Unary(backend, x, xName, y, yName);
    }

    public static void SoftmaxBackward<T>(Backend backend, View<T> y, View<T> dy, int rows, int cols, View<T> dx) where T : unmanaged
    {
        Softmax(backend, y, nameof(y), rows, cols, dy, nameof(dy));
        Softmax(backend, y, nameof(y), rows, cols, dx, nameof(dx));
        if (KernelChecks.PartlyOverlap(dx, y) || dx == y) throw new ArgumentException("dx must not overlap y.", nameof(dx));
        if (KernelChecks.PartlyOverlap(dx, dy) || dx == dy) throw new ArgumentException("dx must not overlap dy.", nameof(dx));
    }

    public static void Mixture<T>(Backend backend, View<T> x, string xName, View<T> g, string gName, int experts, int batch, int width,
        View<T> y, string yName) where T : unmanaged
    {
        Check.Positive(experts, nameof(experts)); Check.Positive(batch, nameof(batch)); Check.Positive(width, nameof(width));
        Check.Length(x, (long)experts * batch * width, xName);
        Check.Length(g, (long)batch * experts, gName);
        Check.Length(y, (long)batch * width, yName);
        Check.Owned(backend, x, xName); Check.Owned(backend, g, gName); Check.Owned(backend, y, yName);
        if (Overlap(x, y) || Overlap(g, y)) throw new ArgumentException($"{yName} must not overlap {xName} or {gName}.", yName);
    }

    private static bool Overlap<T>(View<T> a, View<T> b) where T : unmanaged =>
        a == b || KernelChecks.PartlyOverlap(a, b);
}
