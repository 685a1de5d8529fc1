using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The embedding lookup on the SIMD CPU path: the gather copies one table row per batch row (rows split over the cores);
/// the scatter-add splits the <i>table</i> rows over the cores — each chunk owns a range of table rows, clears them (unless
/// accumulating) and walks the batch rows in order, adding those whose index falls in its range — so every table row
/// receives its sum in batch-row order, the same bits on any number of cores, with no atomics. Reference:
/// Kernels/Embedding/EmbeddingReference.cs.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void EmbeddingGather(View<T> x, View<T> table, EmbeddingLayout layout, View<T> y)
    {
        EmbeddingChecks.Operands(this, x, table, nameof(table), y, nameof(y), layout);
        RunChunks(new GatherJob { X = x.Pointer(), Table = table.Pointer(), Y = y.Pointer(), L = layout }, layout.Rows, layout.Dim);
    }

    /// <inheritdoc/>
    public override unsafe void EmbeddingScatterAdd(View<T> x, View<T> dy, EmbeddingLayout layout, View<T> dTable, bool accumulate)
    {
        EmbeddingChecks.Operands(this, x, dTable, nameof(dTable), dy, nameof(dy), layout);
        RunChunks(new ScatterJob { X = x.Pointer(), DY = dy.Pointer(), DTable = dTable.Pointer(), L = layout, Accumulate = accumulate },
            layout.Count, layout.Dim);
    }

    /// <inheritdoc/>
    public override unsafe void CopyColumns(View<T> x, int rows, int xCols, int width, View<T> y, int yCols)
    {
        EmbeddingChecks.Columns(this, x, rows, xCols, width, y, yCols);
        if (width == 0) return;
        RunChunks(new CopyColumnsJob { X = x.Pointer(), Y = y.Pointer(), XCols = xCols, YCols = yCols, Width = width }, rows, width);
    }

    private static unsafe int IndexOf(T* x, in EmbeddingLayout l, int r) =>
        EmbeddingLayout.Row(double.CreateTruncating(x[(long)r * l.InputCols + l.Column]), l.Count);

    /// <summary>Batch rows [start, start + count): copy table row i_r into y's block.</summary>
    private unsafe struct GatherJob : IChunkJob
    {
        public T* X, Table, Y;
        public EmbeddingLayout L;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
                new ReadOnlySpan<T>(Table + (long)IndexOf(X, L, r) * L.Dim, L.Dim).CopyTo(new Span<T>(Y + (long)r * L.OutputCols + L.OutputOffset, L.Dim));
            return 0;
        }
    }

    /// <summary>Table rows [start, start + count): cleared (unless accumulating), then every batch row indexing one of them, in order.</summary>
    private unsafe struct ScatterJob : IChunkJob
    {
        public T* X, DY, DTable;
        public EmbeddingLayout L;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            if (!Accumulate) new Span<T>(DTable + (long)start * L.Dim, count * L.Dim).Clear();
            for (int r = 0; r < L.Rows; r++)
            {
                int i = IndexOf(X, L, r);
                if (i < start || i >= start + count) continue;
                var row = new Span<T>(DTable + (long)i * L.Dim, L.Dim);
                TensorPrimitives.Add(row, new ReadOnlySpan<T>(DY + (long)r * L.OutputCols + L.OutputOffset, L.Dim), row);
            }
            return 0;
        }
    }

    /// <summary>Rows [start, start + count): the first Width columns.</summary>
    private unsafe struct CopyColumnsJob : IChunkJob
    {
        public T* X, Y;
        public int XCols, YCols, Width;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
                new ReadOnlySpan<T>(X + (long)r * XCols, Width).CopyTo(new Span<T>(Y + (long)r * YCols, Width));
            return 0;
        }
    }
}
