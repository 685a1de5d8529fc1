namespace Engine.Kernels;

/// <summary>Argument checks of the masked losses, shared by both backends so that they throw the same exceptions.</summary>
internal static class MaskedLossChecks
{
    /// <summary>Masked MSE: prediction and target of the same non-zero length, 1-element loss/count views.</summary>
    public static void Mse<T>(Backend backend, View<T> prediction, View<T> target, View<T> count) where T : unmanaged
    {
        KernelChecks.Mse(backend, prediction, target);
        KernelChecks.Scalar(backend, count, nameof(count));
    }

    /// <summary>Row-weighted masked MSE: the masked checks, then the row weights owned by the backend and dividing the
    /// prediction into whole rows.</summary>
    public static void RowWeights<T>(Backend backend, View<T> prediction, View<T> rowWeights) where T : unmanaged
    {
        Check.Owned(backend, rowWeights, nameof(rowWeights));
        if (prediction.Length % rowWeights.Length != 0)
            throw new ArgumentException($"{rowWeights.Length} row weights do not divide the prediction's {prediction.Length} elements into whole rows.", nameof(rowWeights));
    }

    /// <summary>Masked cross-entropy: the batch×classes matrix, its labels and the count scalar.</summary>
    public static void Classification<T>(Backend backend, View<T> matrix, string matrixName, View<int> labels, int batch, int classes, View<T> count) where T : unmanaged
    {
        KernelChecks.Classification(backend, matrix, matrixName, labels, batch, classes);
        KernelChecks.Scalar(backend, count, nameof(count));
    }

    /// <summary>Smooth-L1: β finite and ≥ 0 (0 = L1).</summary>
    public static void Beta<T>(T beta) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        if (!(beta >= T.Zero) || !T.IsFinite(beta))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "The smooth-L1 β (Huber δ) must be finite and ≥ 0 (0 = L1).");
    }

    /// <summary>Host-side label check (CPU path): negative = no label, otherwise in [0, classes).</summary>
    public static void LabelsInRange(ReadOnlySpan<int> labels, int classes)
    {
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i],
                    $"labels[{i}] = {labels[i]} is not a class index in [0, {classes}) (a negative label means no label).");
    }

    /// <summary>MaskedDifference: four views of one length, none partly overlapping another.</summary>
    public static void Difference<T>(Backend backend, View<T> prediction, View<T> target, View<T> difference, View<T> mask) where T : unmanaged
    {
        KernelChecks.Binary(backend, prediction, nameof(prediction), target, nameof(target), difference, nameof(difference));
        KernelChecks.Binary(backend, prediction, nameof(prediction), target, nameof(target), mask, nameof(mask));
        if (ReferenceEquals(difference.Buffer, mask.Buffer) && difference.Offset < mask.Offset + mask.Length && mask.Offset < difference.Offset + difference.Length)
            throw new ArgumentException("difference and mask must not overlap.", nameof(mask));
    }

    /// <summary>Weighted cross-entropy: the masked checks, optional row weights [batch] and class weights [classes] (empty = all
    /// ones), ε ∈ [0, 1] and a 1-element weight sum.</summary>
    public static void Weighted<T>(Backend backend, View<T> matrix, string matrixName, View<int> labels, int batch, int classes,
        View<T> rowWeights, View<T> classWeights, T smoothing, View<T> weightSum) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        KernelChecks.Classification(backend, matrix, matrixName, labels, batch, classes);
        KernelChecks.Scalar(backend, weightSum, nameof(weightSum));
        if (!rowWeights.IsEmpty) { Check.Owned(backend, rowWeights, nameof(rowWeights)); Check.Length(rowWeights, batch, nameof(rowWeights)); }
        if (!classWeights.IsEmpty) { Check.Owned(backend, classWeights, nameof(classWeights)); Check.Length(classWeights, classes, nameof(classWeights)); }
        if (!(smoothing >= T.Zero && smoothing <= T.One))
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "The label smoothing ε must lie in [0, 1].");
    }

    /// <summary>Positive-weighted BCE: logits and labels of one length, a whole number of rows of <paramref name="columns"/>,
    /// the k positive weights, optional row weights [rows] and a 1-element weight sum.</summary>
    public static void PositiveWeighted<T>(Backend backend, View<T> matrix, string matrixName, View<int> labels, View<T> rowWeights,
        View<T> positiveWeights, int columns, View<T> weightSum) where T : unmanaged
    {
        Check.Positive(columns, nameof(columns));
        if (matrix.Length % columns != 0)
            throw new ArgumentException($"{matrixName} has {matrix.Length} elements, not a whole number of rows of {columns} labels.", matrixName);
        KernelChecks.Classification(backend, matrix, matrixName, labels, matrix.Length, 1);
        KernelChecks.Scalar(backend, weightSum, nameof(weightSum));
        Check.Owned(backend, positiveWeights, nameof(positiveWeights));
        Check.Length(positiveWeights, columns, nameof(positiveWeights));
        if (!rowWeights.IsEmpty) { Check.Owned(backend, rowWeights, nameof(rowWeights)); Check.Length(rowWeights, matrix.Length / columns, nameof(rowWeights)); }
    }
}
