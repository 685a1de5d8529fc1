using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Column sums, Sum and Dot as explicitly grouped ILGPU kernels. Sum and Dot use the two-pass
/// scheme of IlgpuGroupReduce.cs (a partial sum per group, then one group adds the partials), reading float4.
/// ColumnSums gives each group a tile of adjacent columns: its threads form
/// <c>lanes × tileCols</c>, lane r adds rows r, r + lanes, …, of its column (adjacent threads read
/// adjacent addresses), and the lanes are added by a shared-memory tree.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>What pass 1 of a scalar reduction adds up.</summary>
    internal enum Terms { Values, Products, SquaredDifferences }

    private Action<AcceleratorStream, KernelConfig, Dense, Dense, StreamLayout, Dense>? _sumValues, _sumProducts, _sumSquaredDifferences;
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
        var layout = StreamLayout.Of(a.Length, a.Offset, b.Offset);
        var config = new KernelConfig(groups, GroupSize);
        switch (terms)
        {
            case Terms.Values:
                (_sumValues ??= Accelerator.LoadKernel<Dense, Dense, StreamLayout, Dense>(PartialSumsKernel<Values>))(Launched(), config, a.Ilgpu(), b.Ilgpu(), layout, Partials);
                break;
            case Terms.Products:
                (_sumProducts ??= Accelerator.LoadKernel<Dense, Dense, StreamLayout, Dense>(PartialSumsKernel<Products>))(Launched(), config, a.Ilgpu(), b.Ilgpu(), layout, Partials);
                break;
            default:
                (_sumSquaredDifferences ??= Accelerator.LoadKernel<Dense, Dense, StreamLayout, Dense>(PartialSumsKernel<SquaredDifferences>))(Launched(), config, a.Ilgpu(), b.Ilgpu(), layout, Partials);
                break;
        }
        FinishReduction(groups, scale, result);
    }

    /// <summary>What pass 1 adds up, as a compile-time policy (one kernel each, no branch in the loop).</summary>
    internal interface ITerm
    {
        float Of(float a, float b);
        float Of(Vec4 a, Vec4 b);
    }

    /// <summary>aᵢ.</summary>
    internal readonly struct Values : ITerm
    {
        public float Of(float a, float b) => a;
        public float Of(Vec4 a, Vec4 b) => (a.X + a.Y) + (a.Z + a.W);
    }

    /// <summary>aᵢ·bᵢ.</summary>
    internal readonly struct Products : ITerm
    {
        public float Of(float a, float b) => a * b;
        public float Of(Vec4 a, Vec4 b) => a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W;
    }

    /// <summary>(aᵢ − bᵢ)².</summary>
    internal readonly struct SquaredDifferences : ITerm
    {
        public float Of(float a, float b) => (a - b) * (a - b);
        public float Of(Vec4 a, Vec4 b) => Of(a.X, b.X) + Of(a.Y, b.Y) + Of(a.Z, b.Z) + Of(a.W, b.W);
    }

    /// <summary>Pass 1: each thread adds its grid-strided float4 of a (and b) — one 128-bit load per view per iteration —
    /// and its share of the scalar head and tail (<see cref="StreamLayout"/>), the group adds its threads' values with
    /// warp shuffles (<see cref="GroupSumToFirst"/>), and the first thread writes the group's partial sum.</summary>
    internal static void PartialSumsKernel<TTerm>(Dense a, Dense b, StreamLayout layout, Dense partials) where TTerm : struct, ITerm
    {
        TTerm term = default;
        var a4 = Vectors(a, layout);
        var b4 = Vectors(b, layout);
        float sum = 0;
        for (int v = GlobalThread; v < layout.Vectors; v += GridThreads) sum += term.Of(a4[v], b4[v]);
        int scalars = ScalarCount(layout);
        for (int s = GlobalThread; s < scalars; s += GridThreads)
        {
            int i = ScalarIndex(layout, s);
            sum += term.Of(a[i], b[i]);
        }
        sum = GroupSumToFirst(sum);
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
