namespace Engine;

/// <summary>Host-side checks on data entering the engine (before any upload), with messages naming the argument, row and column.</summary>
internal static class InputValidation
{
    /// <summary>Throws unless <paramref name="values"/> is a finite [rows × cols] matrix.</summary>
    public static void CheckMatrix(ReadOnlySpan<float> values, int rows, int cols, string name)
    {
        if (values.Length != (long)rows * cols)
            throw new ArgumentException($"{name} has {values.Length} values but {rows} rows × {cols} columns need {(long)rows * cols} " +
                $"(the model takes {cols} features per row).", name);
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"{name}[row {i / cols}, column {i % cols}] is {values[i]}: inputs and targets must be finite numbers.", name);
    }

    /// <summary>Throws unless every label lies in [0, classes).</summary>
    public static void CheckLabels(ReadOnlySpan<int> labels, int classes, string name)
    {
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(name, labels[i], $"{name}[row {i}] = {labels[i]} is not a class index in [0, {classes}).");
    }
}
