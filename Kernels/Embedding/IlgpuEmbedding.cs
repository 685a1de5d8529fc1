using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The embedding lookup on ILGPU, one thread per output element (r, j): the gather reads E[i_r, j]; the scatter-add clears
/// dE (unless accumulating) and adds dy[r, o + j] into dE[i_r, j] with a float32 atomic add — batch rows sharing an index
/// add into the same element in whatever order the hardware runs them, so the last bits of such a sum may differ between
/// runs (the SIMD CPU path is deterministic). Reference: Kernels/Embedding/EmbeddingReference.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, EmbeddingLayout>? _embeddingGather, _embeddingScatter;
    private Action<AcceleratorStream, Index1D, Dense, Dense, int, int, int>? _copyColumns;

    /// <inheritdoc/>
    public override void EmbeddingGather(View<float> x, View<float> table, EmbeddingLayout layout, View<float> y)
    {
        EmbeddingChecks.Operands(this, x, table, nameof(table), y, nameof(y), layout);
        _embeddingGather ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, EmbeddingLayout>(EmbeddingGatherKernel);
        _embeddingGather(Launched(), layout.Rows * layout.Dim, x.Ilgpu(), table.Ilgpu(), y.Ilgpu(), layout);
    }

    /// <inheritdoc/>
    public override void EmbeddingScatterAdd(View<float> x, View<float> dy, EmbeddingLayout layout, View<float> dTable, bool accumulate)
    {
        EmbeddingChecks.Operands(this, x, dTable, nameof(dTable), dy, nameof(dy), layout);
        if (!accumulate) Fill(dTable, 0f);
        _embeddingScatter ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, EmbeddingLayout>(EmbeddingScatterKernel);
        _embeddingScatter(Launched(), layout.Rows * layout.Dim, x.Ilgpu(), dy.Ilgpu(), dTable.Ilgpu(), layout);
    }

    /// <inheritdoc/>
    public override void CopyColumns(View<float> x, int rows, int xCols, int width, View<float> y, int yCols)
    {
        EmbeddingChecks.Columns(this, x, rows, xCols, width, y, yCols);
        if (width == 0) return;
        _copyColumns ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, int, int, int>(CopyColumnsKernel);
        _copyColumns(Launched(), rows * width, x.Ilgpu(), y.Ilgpu(), xCols, width, yCols);
    }

    /// <summary>The table row of batch row r (<see cref="EmbeddingLayout.Row"/> in float32).</summary>
    private static int EmbeddingRow(Dense x, EmbeddingLayout l, int r)
    {
        float v = x[r * l.InputCols + l.Column];
        return v >= 0 && v < l.Count ? (int)v : l.Count - 1;
    }

    /// <summary>Element (r, j): y[r, o + j] = E[i_r, j].</summary>
    internal static void EmbeddingGatherKernel(Index1D e, Dense x, Dense table, Dense y, EmbeddingLayout l)
    {
        int r = e / l.Dim, j = e - r * l.Dim;
        y[r * l.OutputCols + l.OutputOffset + j] = table[EmbeddingRow(x, l, r) * l.Dim + j];
    }

    /// <summary>Element (r, j): dE[i_r, j] += dy[r, o + j], atomically.</summary>
    internal static void EmbeddingScatterKernel(Index1D e, Dense x, Dense dy, Dense dTable, EmbeddingLayout l)
    {
        int r = e / l.Dim, j = e - r * l.Dim;
        Atomic.Add(ref dTable[EmbeddingRow(x, l, r) * l.Dim + j], AtomicSafe(dy[r * l.OutputCols + l.OutputOffset + j])); // non-finite: +∞
    }

    /// <summary>Element (r, j): y[r, j] = x[r, j].</summary>
    internal static void CopyColumnsKernel(Index1D e, Dense x, Dense y, int xCols, int width, int yCols)
    {
        int r = e / width, j = e - r * width;
        y[r * yCols + j] = x[r * xCols + j];
    }
}
