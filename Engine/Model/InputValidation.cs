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

    /// <summary>Throws unless every index column of the embedded inputs (<see cref="ModelSpec.Embeddings"/>, the last columns
    /// of each row) holds an integer in [0, categories]: a training category's index, or the reserved index of an unseen one.</summary>
    public static void CheckCategoryIndices(ReadOnlySpan<float> values, int rows, ModelSpec spec, string name)
    {
        var embedded = spec.EmbeddedColumns;
        int cols = spec.Inputs, first = spec.PassThroughInputs;
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < embedded.Count; t++)
            {
                float v = values[r * cols + first + t];
                if (!(v >= 0 && v <= embedded[t].Categories && v == MathF.Floor(v)))
                    throw new ArgumentException($"{name}[row {r}, column {first + t}] is {v}, but it is the index column of embedded input " +
                        $"'{embedded[t].Column}' and must hold an integer in [0, {embedded[t].Categories}] ({embedded[t].Categories} = unseen category).", name);
            }
    }

    /// <summary>Throws unless every label lies in [0, classes).</summary>
    public static void CheckLabels(ReadOnlySpan<int> labels, int classes, string name)
    {
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(name, labels[i], $"{name}[row {i}] = {labels[i]} is not a class index in [0, {classes}).");
    }
}
