namespace Engine.Kernels;

/// <summary>Argument checks of the layer-normalization kernels, shared by both backends so both throw the same exception
/// naming the operand.</summary>
internal static class LayerNormChecks
{
    public static void Shape(int rows, int cols, int groups)
    {
        Check.Positive(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Positive(groups, nameof(groups));
        if (rows % groups != 0)
            throw new ArgumentException($"LayerNorm: {rows} rows do not split into {groups} equal groups.", nameof(groups));
    }

    public static void Forward<T>(Backend backend, View<T> x, int rows, int cols, int groups, View<T> gamma, View<T> beta,
        View<T> y, View<T> mean, View<T> rstd) where T : unmanaged
    {
        Shape(rows, cols, groups);
        long n = (long)rows * cols, p = (long)groups * cols;
        Check.Length(x, n, nameof(x)); Check.Length(y, n, nameof(y));
        Check.Length(gamma, p, nameof(gamma)); Check.Length(beta, p, nameof(beta));
        Check.Length(mean, rows, nameof(mean)); Check.Length(rstd, rows, nameof(rstd));
        KernelChecks.Unary(backend, x, nameof(x), y, nameof(y));
        Check.Owned(backend, gamma, nameof(gamma)); Check.Owned(backend, beta, nameof(beta));
        Check.Owned(backend, mean, nameof(mean)); Check.Owned(backend, rstd, nameof(rstd));
    }

    public static void Backward<T>(Backend backend, View<T> x, View<T> mean, View<T> rstd, View<T> dy, int rows, int cols, int groups,
        View<T> scratch, View<T> output, string outputName, long outputLength) where T : unmanaged
    {
        Shape(rows, cols, groups);
        long n = (long)rows * cols;
        Check.Length(x, n, nameof(x)); Check.Length(dy, n, nameof(dy)); Check.Length(scratch, n, nameof(scratch));
        Check.Length(mean, rows, nameof(mean)); Check.Length(rstd, rows, nameof(rstd));
        Check.Owned(backend, x, nameof(x)); Check.Owned(backend, dy, nameof(dy)); Check.Owned(backend, scratch, nameof(scratch));
        Check.Owned(backend, mean, nameof(mean)); Check.Owned(backend, rstd, nameof(rstd));
        if (output.IsEmpty) return;
        Check.Length(output, outputLength, outputName);
        Check.Owned(backend, output, outputName);
        // Three calls, not a loop over a new array: the array would be allocated on every call wherever the JIT does not
        // remove it (tier-0 code, before the method is recompiled — a warm step that allocates on a busy machine).
        NoOverlap(output, outputName, x, nameof(x));
        NoOverlap(output, outputName, dy, nameof(dy));
        NoOverlap(output, outputName, scratch, nameof(scratch));
    }

    private static void NoOverlap<T>(View<T> output, string outputName, View<T> view, string name) where T : unmanaged
    {
        if (KernelChecks.PartlyOverlap(output, view) || output == view) throw new ArgumentException($"LayerNorm: {outputName} must not overlap {name}.", outputName);
    }
}
