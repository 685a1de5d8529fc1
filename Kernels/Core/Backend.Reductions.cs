namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary><c>result[j] (+)= Σᵢ x[i, j]</c> for x of shape rows×cols (the bias gradient).</summary>
    public abstract void ColumnSums(View<T> x, int rows, int cols, View<T> result, bool accumulate);

    /// <summary><c>result[0] = scale·Σᵢ x[i]</c> (scale = 1/n gives the mean).</summary>
    public abstract void Sum(View<T> x, View<T> result, T scale);

    /// <summary><c>result[0] = Σᵢ a[i]·b[i]</c>.</summary>
    public abstract void Dot(View<T> a, View<T> b, View<T> result);

    /// <summary>
    /// Sums of squares of the segments of <paramref name="x"/> delimited by
    /// <paramref name="segmentOffsets"/> (S+1 ascending entries, first 0, last x.Length):
    /// <c>result[s] = Σ_{i∈segment s} x[i]²</c> for s &lt; S, and <c>result[S]</c> = the total.
    /// One pass over the flat gradient buffer gives every per-parameter norm and the global norm.
    /// </summary>
    public abstract void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result);
}
