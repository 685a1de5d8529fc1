using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Sums on the SIMD CPU path. How float32 sums stay accurate: the input is cut into blocks of
/// <see cref="SumBlock"/> elements; each block is summed by TensorPrimitives (vectorised, several
/// independent accumulators, so each accumulator adds only a few dozen values), and the block sums
/// are added in <c>double</c>. The rounding error is then that of a short float sum, independent of
/// the length of the input, instead of growing with n as a running float sum does.
/// Parallel chunks (above the size threshold) return double partial sums that are added in chunk
/// order, so the result does not depend on the thread count.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <summary>Elements per block summed in T before the block sum is added in double.</summary>
    internal const int SumBlock = 1024;

    /// <summary>Columns handled together by <see cref="ColumnSums"/> (their partial sums live on the stack).</summary>
    private const int ColumnBlock = 256;

    /// <summary>Rows added in T before a column block's partial sums are added in double.</summary>
    private const int RowBlock = 64;

    /// <inheritdoc/>
    public override unsafe void ColumnSums(View<T> x, int rows, int cols, View<T> result, bool accumulate)
    {
        KernelChecks.ColumnSums(this, x, rows, cols, result);
        if (cols == 0) return;
        int columnBlocks = (cols + ColumnBlock - 1) / ColumnBlock;
        var job = new ColumnSumsJob { X = x.Pointer(), Result = result.Pointer(), Rows = rows, Cols = cols, Accumulate = accumulate };
        RunChunks(job, columnBlocks, costPerItem: Math.Max(1, rows) * Math.Min(cols, ColumnBlock));
    }

    /// <inheritdoc/>
    public override unsafe void Sum(View<T> x, View<T> result, T scale)
    {
        Check.Owned(this, x, nameof(x));
        Check.Owned(this, result, nameof(result));
        Check.Length(result, 1, nameof(result));
        double sum = RunChunks(new SumJob { A = x.Pointer() }, x.Length);
        result.Span()[0] = FromDouble(ToDouble(scale) * sum);
    }

    /// <inheritdoc/>
    public override unsafe void Dot(View<T> a, View<T> b, View<T> result)
    {
        Check.Owned(this, a, nameof(a));
        Check.Owned(this, b, nameof(b));
        Check.Owned(this, result, nameof(result));
        Check.SameLength(a, nameof(a), b, nameof(b));
        Check.Length(result, 1, nameof(result));
        double dot = RunChunks(new SumJob { A = a.Pointer(), B = b.Pointer() }, a.Length);
        result.Span()[0] = FromDouble(dot);
    }

    /// <summary>Σ a (B null) or Σ a·b over one chunk: blocks summed in T, block sums in double.</summary>
    private unsafe struct SumJob : IChunkJob
    {
        public T* A, B;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            for (int i = 0; i < count; i += SumBlock)
            {
                int n = Math.Min(SumBlock, count - i);
                var a = new ReadOnlySpan<T>(A + start + i, n);
                total += ToDouble(B == null ? TensorPrimitives.Sum(a) : TensorPrimitives.Dot(a, new ReadOnlySpan<T>(B + start + i, n)));
            }
            return total;
        }
    }

    /// <summary>result[j] (+)= Σᵢ x[i, j] for the column blocks [start, start + count).
    /// Row after row is added to a block of partial sums (contiguous, vectorised adds);
    /// every <see cref="RowBlock"/> rows the partial sums are added into double totals.</summary>
    private unsafe struct ColumnSumsJob : IChunkJob
    {
        public T* X, Result;
        public int Rows, Cols;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            Span<T> partial = stackalloc T[ColumnBlock];
            Span<double> total = stackalloc double[ColumnBlock];
            for (int block = start; block < start + count; block++)
            {
                int c0 = block * ColumnBlock, width = Math.Min(ColumnBlock, Cols - c0);
                var p = partial[..width];
                var t = total[..width];
                t.Clear();
                for (int r0 = 0; r0 < Rows; r0 += RowBlock)
                {
                    p.Clear();
                    int r1 = Math.Min(Rows, r0 + RowBlock);
                    for (int r = r0; r < r1; r++)
                        TensorPrimitives.Add(p, new ReadOnlySpan<T>(X + (long)r * Cols + c0, width), p);
                    for (int j = 0; j < width; j++) t[j] += ToDouble(p[j]);
                }
                var result = new Span<T>(Result + c0, width);
                for (int j = 0; j < width; j++)
                    result[j] = FromDouble(Accumulate ? ToDouble(result[j]) + t[j] : t[j]);
            }
            return 0;
        }
    }
}
