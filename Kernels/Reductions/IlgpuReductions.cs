using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Column sums, Sum and Dot as explicitly grouped ILGPU kernels. Sum and Dot use the two-pass
/// scheme of IlgpuGroupReduce.cs (a partial sum per group, then one group adds the partials).
/// ColumnSums gives each group a tile of adjacent columns: its threads form
/// <c>lanes × tileCols</c>, lane r adds rows r, r + lanes, …, of its column (adjacent threads read
/// adjacent addresses), and the lanes are added by a shared-memory tree.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>What pass 1 of a scalar reduction adds up.</summary>
    internal enum Terms { Values, Products, SquaredDifferences }

    private Action<AcceleratorStream, KernelConfig, Dense, Dense, int, int, Dense>? _partialSums;
    private Action<AcceleratorStream, KernelConfig, Dense, int, int, int, int, Dense>? _columnSums;

    /// <inheritdoc/>
    public override void ColumnSums(View<float> x, int rows, int cols, View<float> result, bool accumulate)
    {
        KernelChecks.ColumnSums(this, x, rows, cols, result);
        if (cols == 0) return;
        int tileCols = 1;
        while (tileCols < 32 && tileCols < cols && tileCols < GroupSize) tileCols *= 2; // power of two ≤ 32
        int groups = (cols + tileCols - 1) / tileCols;
        _columnSums ??= Accelerator.LoadKernel<Dense, int, int, int, int, Dense>(ColumnSumsKernel);
        _columnSums(Launched(), new KernelConfig(groups, GroupSize), x.Ilgpu(), rows, cols, tileCols, accumulate ? 1 : 0, result.Ilgpu());
    }

    /// <inheritdoc/>
    public override void Sum(View<float> x, View<float> result, float scale)
    {
        Check.Owned(this, x, nameof(x));
        KernelChecks.Scalar(this, result, nameof(result));
        ReduceTerms(Terms.Values, x, x, scale, result);
    }

    /// <inheritdoc/>
    public override void Dot(View<float> a, View<float> b, View<float> result)
    {
        Check.Owned(this, a, nameof(a));
        Check.Owned(this, b, nameof(b));
        Check.SameLength(a, nameof(a), b, nameof(b));
        KernelChecks.Scalar(this, result, nameof(result));
        ReduceTerms(Terms.Products, a, b, 1f, result);
    }

    /// <summary><c>result[0] = scale·Σᵢ term(a[i], b[i])</c>, two passes, on the device.</summary>
    internal void ReduceTerms(Terms terms, View<float> a, View<float> b, float scale, View<float> result)
    {
        int groups = ReductionGroups(a.Length);
        _partialSums ??= Accelerator.LoadKernel<Dense, Dense, int, int, Dense>(PartialSumsKernel);
        _partialSums(Launched(), new KernelConfig(groups, GroupSize), a.Ilgpu(), b.Ilgpu(), a.Length, (int)terms, Partials);
        FinishReduction(groups, scale, result);
    }

    internal static void PartialSumsKernel(Dense a, Dense b, int n, int terms, Dense partials)
    {
        float sum = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float v = a[i];
            if (terms == (int)Terms.Products) v *= b[i];
            else if (terms == (int)Terms.SquaredDifferences) { v -= b[i]; v *= v; }
            sum += v;
        }
        sum = GroupSum(sum);
        if (Group.IsFirstThread) partials[Grid.IdxX] = sum;
    }

    internal static void ColumnSumsKernel(Dense x, int rows, int cols, int tileCols, int accumulate, Dense result)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroupSize);
        int t = Group.IdxX;
        int column = t % tileCols, lane = t / tileCols, lanes = Group.DimX / tileCols;
        int col = Grid.IdxX * tileCols + column;
        float sum = 0;
        if (col < cols)
            for (int r = lane; r < rows; r += lanes) sum += x[r * cols + col];
        shared[t] = sum;
        Group.Barrier();
        for (int stride = lanes / 2; stride > 0; stride >>= 1)   // lanes is a power of two
        {
            if (lane < stride) shared[t] += shared[t + stride * tileCols];
            Group.Barrier();
        }
        if (lane == 0 && col < cols) result[col] = accumulate != 0 ? result[col] + shared[column] : shared[column];
    }
}
