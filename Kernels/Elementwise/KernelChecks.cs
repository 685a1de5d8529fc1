namespace Engine.Kernels;

/// <summary>
/// Argument checks shared by the CPU and ILGPU implementations of the elementwise, reduction and
/// loss kernels, so both fail the same way with a message naming the operand (built on <see cref="Check"/>).
/// </summary>
internal static class KernelChecks
{
    /// <summary>True when two views overlap without being the same window (in-place on the same
    /// window is fine for elementwise kernels; a shifted overlap is not).</summary>
    public static bool PartlyOverlap<T>(View<T> a, View<T> b) where T : unmanaged =>
        ReferenceEquals(a.Buffer, b.Buffer) && a.Offset != b.Offset
        && a.Offset < b.Offset + b.Length && b.Offset < a.Offset + a.Length;

    /// <summary>Throws (naming <paramref name="outputName"/>) when the output partly overlaps an input.</summary>
    public static void NoPartialOverlap<T>(View<T> input, string inputName, View<T> output, string outputName) where T : unmanaged
    {
        if (PartlyOverlap(input, output))
            throw new ArgumentException($"{outputName} overlaps {inputName} without being the same view.", outputName);
    }

    public static void Activation(Activation activation)
    {
        if (activation is not (Kernels.Activation.Identity or Kernels.Activation.Relu or Kernels.Activation.Tanh or Kernels.Activation.Sigmoid))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
    }

    /// <summary>Two operands of equal length on <paramref name="backend"/>, the second an output that may be the
    /// first (same window) but may not partly overlap it.</summary>
    public static void Unary<T>(Backend backend, View<T> input, string inputName, View<T> output, string outputName) where T : unmanaged
    {
        Check.Owned(backend, input, inputName);
        Check.Owned(backend, output, outputName);
        Check.SameLength(input, inputName, output, outputName);
        NoPartialOverlap(input, inputName, output, outputName);
    }

    /// <summary>Two inputs and an output of equal length.</summary>
    public static void Binary<T>(Backend backend, View<T> a, string nameA, View<T> b, string nameB, View<T> result, string nameResult) where T : unmanaged
    {
        Check.Owned(backend, a, nameA);
        Check.Owned(backend, b, nameB);
        Check.Owned(backend, result, nameResult);
        Check.SameLength(a, nameA, b, nameB);
        Check.SameLength(a, nameA, result, nameResult);
        NoPartialOverlap(a, nameA, result, nameResult);
        NoPartialOverlap(b, nameB, result, nameResult);
    }

    /// <summary>An activation backward: saved tensor, dy and dx of equal length.</summary>
    public static void ActivationBackward<T>(Backend backend, Activation activation, View<T> saved, string savedName, View<T> dy, View<T> dx) where T : unmanaged
    {
        Binary(backend, saved, savedName, dy, nameof(dy), dx, nameof(dx));
        Activation(activation);
    }

    /// <summary>DivideByCount: x and y of equal length, a whole number of rows per count, and y not overlapping the
    /// counts (they are read while y is written).</summary>
    public static void DivideByCount<T>(Backend backend, View<T> x, View<T> counts, View<T> y) where T : unmanaged
    {
        Unary(backend, x, nameof(x), y, nameof(y));
        Check.Owned(backend, counts, nameof(counts));
        if (counts.Length == 0 || x.Length % counts.Length != 0)
            throw new ArgumentException($"x has {x.Length} elements, not a whole number of rows for {counts.Length} counts.", nameof(counts));
        if (ReferenceEquals(y.Buffer, counts.Buffer) && y.Offset < counts.Offset + counts.Length && counts.Offset < y.Offset + y.Length)
            throw new ArgumentException("y overlaps counts.", nameof(y));
    }

    /// <summary>A one-element device scalar.</summary>
    public static void Scalar<T>(Backend backend, View<T> scalar, string name) where T : unmanaged
    {
        Check.Owned(backend, scalar, name);
        Check.Length(scalar, 1, name);
    }

    /// <summary>Prediction and target of MSE: same, non-zero length.</summary>
    public static void Mse<T>(Backend backend, View<T> prediction, View<T> target) where T : unmanaged
    {
        Check.Owned(backend, prediction, nameof(prediction));
        Check.Owned(backend, target, nameof(target));
        if (prediction.Length == 0) throw new ArgumentException("prediction is empty: the mean over zero elements is undefined.", nameof(prediction));
        Check.SameLength(prediction, nameof(prediction), target, nameof(target));
    }

    /// <summary>Shapes of a batch×classes matrix and its B labels (label values are not read here).</summary>
    public static void Classification<T>(Backend backend, View<T> matrix, string matrixName, View<int> labels, int batch, int classes) where T : unmanaged
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(classes, nameof(classes));
        Check.Owned(backend, matrix, matrixName);
        Check.Owned(backend, labels, nameof(labels));
        if ((long)batch * classes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch×classes = {(long)batch * classes} exceeds the 32-bit index range.");
        if (matrix.Length != (long)batch * classes)
            throw new ArgumentException($"{matrixName} has {matrix.Length} elements but batch×classes = {batch}×{classes} = {(long)batch * classes}.", matrixName);
        Check.Length(labels, batch, nameof(labels));
    }

    /// <summary>ColumnSums operands.</summary>
    public static void ColumnSums<T>(Backend backend, View<T> x, int rows, int cols, View<T> result) where T : unmanaged
    {
        Check.Owned(backend, x, nameof(x));
        Check.Owned(backend, result, nameof(result));
        Check.NonNegative(rows, nameof(rows));
        Check.NonNegative(cols, nameof(cols));
        Check.Length(x, (long)rows * cols, nameof(x));
        Check.Length(result, cols, nameof(result));
    }
}
