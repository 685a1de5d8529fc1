namespace Engine.Kernels;

/// <summary>Argument checks of the embedding kernels, shared by both backends so both throw the same exception naming the
/// operand.</summary>
internal static class EmbeddingChecks
{
    public static void Layout(EmbeddingLayout l)
    {
        Check.Positive(l.Rows, "rows");
        Check.Positive(l.Count, "count");
        Check.Positive(l.Dim, "dim");
        if ((uint)l.Column >= (uint)l.InputCols)
            throw new ArgumentOutOfRangeException("layout", l.Column, $"Embedding: index column {l.Column} is not one of the input's {l.InputCols} columns.");
        if (l.OutputOffset < 0 || (long)l.OutputOffset + l.Dim > l.OutputCols)
            throw new ArgumentOutOfRangeException("layout", l.OutputOffset, $"Embedding: output block [{l.OutputOffset}, {(long)l.OutputOffset + l.Dim}) does not fit in {l.OutputCols} output columns.");
    }

    public static void Operands<T>(Backend backend, View<T> x, View<T> table, string tableName, View<T> y, string yName, EmbeddingLayout l) where T : unmanaged
    {
        Layout(l);
        Check.Length(x, (long)l.Rows * l.InputCols, "x");
        Check.Length(table, (long)l.Count * l.Dim, tableName);
        Check.Length(y, (long)l.Rows * l.OutputCols, yName);
        Check.Owned(backend, x, "x");
        Check.Owned(backend, table, tableName);
        Check.Owned(backend, y, yName);
        if (KernelChecks.PartlyOverlap(table, y) || table == y) throw new ArgumentException($"Embedding: {tableName} must not overlap {yName}.", tableName);
    }

    public static void Columns<T>(Backend backend, View<T> x, int rows, int xCols, int width, View<T> y, int yCols) where T : unmanaged
    {
        Check.Positive(rows, nameof(rows));
        if (width < 0 || width > xCols || width > yCols)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"CopyColumns: {width} columns do not fit in {xCols} input and {yCols} output columns.");
        Check.Length(x, (long)rows * xCols, nameof(x));
        Check.Length(y, (long)rows * yCols, nameof(y));
        Check.Owned(backend, x, nameof(x));
        Check.Owned(backend, y, nameof(y));
        if (KernelChecks.PartlyOverlap(x, y) || x == y) throw new ArgumentException("CopyColumns: y must not overlap x.", nameof(y));
    }
}
