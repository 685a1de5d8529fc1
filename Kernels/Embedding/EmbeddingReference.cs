namespace Engine.Kernels;

/// <summary>
/// The embedding lookup and its table gradient in float64, written as plainly as possible: the reference the SIMD CPU path
/// (<c>CpuEmbedding.cs</c>) and the ILGPU kernels (<c>IlgpuEmbedding.cs</c>) are tested against. Maths: docs/maths.md §21.3.
/// </summary>
public static class EmbeddingReference
{
    /// <summary>y[r, o + j] = E[i_r, j], i_r = x[r, c] (<see cref="EmbeddingLayout.Row"/>); y's other columns are left as given.</summary>
    public static void Gather(double[] x, double[] table, EmbeddingLayout l, double[] y)
    {
        for (int r = 0; r < l.Rows; r++)
        {
            int i = EmbeddingLayout.Row(x[r * l.InputCols + l.Column], l.Count);
            for (int j = 0; j < l.Dim; j++) y[r * l.OutputCols + l.OutputOffset + j] = table[i * l.Dim + j];
        }
    }

    /// <summary>dE[i, j] = Σ over the rows r with i_r = i of dy[r, o + j].</summary>
    public static double[] ScatterAdd(double[] x, double[] dy, EmbeddingLayout l)
    {
        var dTable = new double[l.Count * l.Dim];
        for (int r = 0; r < l.Rows; r++)
        {
            int i = EmbeddingLayout.Row(x[r * l.InputCols + l.Column], l.Count);
            for (int j = 0; j < l.Dim; j++) dTable[i * l.Dim + j] += dy[r * l.OutputCols + l.OutputOffset + j];
        }
        return dTable;
    }
}
