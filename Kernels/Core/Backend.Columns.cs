namespace Engine.Kernels;

/// <summary>
/// A block of columns copied between two row-major matrices with the same rows: columns [<see cref="XOffset"/>,
/// XOffset + <see cref="Width"/>) of x [<see cref="Rows"/> × <see cref="XCols"/>] into columns [<see cref="YOffset"/>,
/// YOffset + Width) of y [Rows × <see cref="YCols"/>], overwriting them or (<see cref="Accumulate"/>) adding to them. The
/// column concatenation of the tape (<c>Ops.ConcatColumns</c>, a tower reading another task's prediction: docs/maths.md
/// §17.7) writes each part's block forward and reads each part's gradient back from the same block.
/// </summary>
public readonly record struct ColumnBlock(int Rows, int XCols, int XOffset, int YCols, int YOffset, int Width, bool Accumulate = false)
{
    /// <summary>Throws, naming the field, unless the block fits both matrices.</summary>
    public void Validate()
    {
        Check.Positive(Rows, "rows");
        Check.Positive(Width, "width");
        if (XOffset < 0 || (long)XOffset + Width > XCols)
            throw new ArgumentOutOfRangeException("block", XOffset, $"CopyColumnBlock: source columns [{XOffset}, {(long)XOffset + Width}) do not fit in {XCols}.");
        if (YOffset < 0 || (long)YOffset + Width > YCols)
            throw new ArgumentOutOfRangeException("block", YOffset, $"CopyColumnBlock: destination columns [{YOffset}, {(long)YOffset + Width}) do not fit in {YCols}.");
    }
}

public abstract partial class Backend<T>
{
    /// <summary>
    /// <c>y[r, yOffset + j] (+)= x[r, xOffset + j]</c> for r &lt; rows, j &lt; width (<see cref="ColumnBlock"/>); y's other
    /// columns are left as they are. Reference: Kernels/Columns/ColumnBlockReference.cs.
    /// </summary>
    public abstract void CopyColumnBlock(View<T> x, View<T> y, ColumnBlock block);
}
