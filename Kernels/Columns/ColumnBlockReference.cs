namespace Engine.Kernels;

/// <summary>
/// The column-block copy in float64, as plainly as possible: the reference the SIMD CPU path (<c>CpuColumnBlock.cs</c>) and
/// the ILGPU kernel (<c>IlgpuColumnBlock.cs</c>) are tested against, and the checks both run.
/// </summary>
public static class ColumnBlockReference
{
    /// <summary>y[r, yOffset + j] = (accumulate ? y[r, yOffset + j] : 0) + x[r, xOffset + j].</summary>
    public static void Copy(double[] x, double[] y, ColumnBlock b)
    {
        for (int r = 0; r < b.Rows; r++)
            for (int j = 0; j < b.Width; j++)
            {
                long to = (long)r * b.YCols + b.YOffset + j;
                y[to] = (b.Accumulate ? y[to] : 0) + x[(long)r * b.XCols + b.XOffset + j];
            }
    }

    /// <summary>The block fits x and y, both belong to <paramref name="backend"/>, and they do not overlap.</summary>
    internal static void CheckOperands<T>(Backend backend, View<T> x, View<T> y, ColumnBlock block) where T : unmanaged
    {
        block.Validate();
        Check.Length(x, (long)block.Rows * block.XCols, "x");
        Check.Length(y, (long)block.Rows * block.YCols, "y");
        Check.Owned(backend, x, "x");
        Check.Owned(backend, y, "y");
        if (KernelChecks.PartlyOverlap(x, y) || x == y) throw new ArgumentException("CopyColumnBlock: y must not overlap x.", "y");
    }
}
