using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The column-block copy on the SIMD CPU path: one row's block per span (a <c>CopyTo</c>, or <c>TensorPrimitives.Add</c> when
/// accumulating), rows split over the cores. Reference: Kernels/Columns/ColumnBlockReference.cs.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void CopyColumnBlock(View<T> x, View<T> y, ColumnBlock block)
    {
        ColumnBlockReference.CheckOperands(this, x, y, block);
        RunChunks(new ColumnBlockJob { X = x.Pointer(), Y = y.Pointer(), B = block }, block.Rows, block.Width);
    }

    /// <summary>Rows [start, start + count): the block of each.</summary>
    private unsafe struct ColumnBlockJob : IChunkJob
    {
        public T* X, Y;
        public ColumnBlock B;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
            {
                var from = new ReadOnlySpan<T>(X + (long)r * B.XCols + B.XOffset, B.Width);
                var to = new Span<T>(Y + (long)r * B.YCols + B.YOffset, B.Width);
                if (B.Accumulate) TensorPrimitives.Add(to, from, to);
                else from.CopyTo(to);
            }
            return 0;
        }
    }
}
