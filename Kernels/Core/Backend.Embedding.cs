namespace Engine.Kernels;

/// <summary>
/// Where one embedded input column sits: rows of the input x [<see cref="Rows"/> × <see cref="InputCols"/>] hold the
/// category index of the column in x[r, <see cref="Column"/>] (an integer stored as a float); its table is
/// [<see cref="Count"/> × <see cref="Dim"/>]; its output block is columns [<see cref="OutputOffset"/>, OutputOffset + Dim) of
/// y [Rows × <see cref="OutputCols"/>]. An index outside [0, Count) reads and writes the table's last row (the row reserved for
/// categories unseen in training); the engine never passes one (the model checks its inputs), and NaN is not an index.
/// </summary>
public readonly record struct EmbeddingLayout(int Rows, int InputCols, int Column, int Count, int Dim, int OutputCols, int OutputOffset)
{
    /// <summary>The table row an index value reads: ⌊v⌋ truncated toward zero, anything outside [0, Count) the last row.</summary>
    public static int Row(double value, int count)
    {
        int i = value >= 0 && value < count ? (int)value : count - 1;
        return i;
    }
}

public abstract partial class Backend<T>
{
    /// <summary>
    /// Embedding lookup (gather) of one index column: <c>y[r, o + j] = E[i_r, j]</c> with <c>i_r = x[r, c]</c>, for j &lt; dim
    /// (PyTorch's <c>nn.Embedding</c> forward written into a column block of y). Maths: docs/maths.md §21.3; the readable
    /// reference is Kernels/Embedding/EmbeddingReference.cs.
    /// </summary>
    public abstract void EmbeddingGather(View<T> x, View<T> table, EmbeddingLayout layout, View<T> y);

    /// <summary>
    /// The table gradient (scatter-add): <c>dE (+)= Σ_r e_{i_r} ⊗ dy[r, o : o + dim]</c> — row i of dE receives the sum of the
    /// output-gradient rows of every batch row whose index is i; rows no index names get 0 (or keep their value when
    /// accumulating). The SIMD path adds in batch-row order (deterministic); the ILGPU kernel adds with atomics (the order of
    /// the float32 additions into one row, and so its last bits, may vary between runs).
    /// </summary>
    public abstract void EmbeddingScatterAdd(View<T> x, View<T> dy, EmbeddingLayout layout, View<T> dTable, bool accumulate);

    /// <summary>Copies the first <paramref name="width"/> columns of x [rows × xCols] into the first columns of
    /// y [rows × yCols] (the numeric inputs an embedding layer passes through).</summary>
    public abstract void CopyColumns(View<T> x, int rows, int xCols, int width, View<T> y, int yCols);
}
