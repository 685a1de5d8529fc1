using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The column-block copy on ILGPU, one thread per element (r, j) of the block. Reference: Kernels/Columns/ColumnBlockReference.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, BlockGeometry>? _columnBlock;

    /// <summary><see cref="ColumnBlock"/> as a kernel argument: ints only (ILGPU does not map a bool field).</summary>
    internal readonly record struct BlockGeometry(int XCols, int XOffset, int YCols, int YOffset, int Width, int Accumulate);

    /// <inheritdoc/>
    public override void CopyColumnBlock(View<float> x, View<float> y, ColumnBlock block)
    {
        ColumnBlockReference.CheckOperands(this, x, y, block);
        _columnBlock ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, BlockGeometry>(ColumnBlockKernel);
        _columnBlock(Launched(), block.Rows * block.Width, x.Ilgpu(), y.Ilgpu(),
            new BlockGeometry(block.XCols, block.XOffset, block.YCols, block.YOffset, block.Width, block.Accumulate ? 1 : 0));
    }

    /// <summary>Element (r, j): y[r, yOffset + j] (+)= x[r, xOffset + j].</summary>
    internal static void ColumnBlockKernel(Index1D e, Dense x, Dense y, BlockGeometry b)
    {
        int r = e / b.Width, j = e - r * b.Width;
        int to = r * b.YCols + b.YOffset + j;
        float value = x[r * b.XCols + b.XOffset + j];
        y[to] = b.Accumulate != 0 ? y[to] + value : value;
    }
}
