using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Packing: copies a block of op(A) or op(B) into the order the micro-kernel reads it, zero-padding
/// partial panels to whole MR rows / NR columns (so the micro-kernel never branches on edges).
/// <list type="bullet">
/// <item>Ã (mc×kc): panels of MR rows; within a panel, for each p the MR values op(A)[i..i+MR, p].</item>
/// <item>B̃ (kc×nc): panels of NR columns; within a panel, for each p the NR values op(B)[p, j..j+NR].</item>
/// </list>
/// The transpose only changes which loop order reads memory contiguously; the packed result is the same.
/// For float32 the two layouts whose source runs along p (rows of a non-transposed A, rows of W read as a
/// transposed B) are packed eight p at a time through an in-register 8×8 transpose
/// (<see cref="CpuGemmTranspose"/>); zero padding is written in the same pass instead of clearing first.
/// Ã needs <see cref="PackedAPadding"/> spare elements after it (the vector path's last store spills over).
/// </summary>
internal static unsafe class CpuGemmPacking<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int MR = CpuGemmDriver<T>.MR;

    /// <summary>Elements the buffer for Ã must have beyond RoundUp(mc, MR)·kc (an 8-wide store of the last 6-wide p row).</summary>
    public const int PackedAPadding = 8;

    /// <summary>Packs op(A)[0..mc, 0..kc] (already offset to the block) into MR-row panels.</summary>
    public static void PackA(StridedMatrix<T> a, int mc, int kc, T* dst)
    {
        if (typeof(T) == typeof(float) && CpuGemmTranspose.IsSupported)
        {
            var af = new StridedMatrix<float>((float*)a.Data, a.RowStride, a.ColumnStride);
            for (int i0 = 0; i0 < mc; i0 += MR, dst += MR * kc)
                PackAPanelFloat(af.From(i0, 0), Math.Min(MR, mc - i0), kc, (float*)dst);
            return;
        }
        for (int i0 = 0; i0 < mc; i0 += MR, dst += MR * kc)
        {
            int rows = Math.Min(MR, mc - i0);
            if (rows < MR) new Span<T>(dst, MR * kc).Clear();
            if (a.ColumnStride == 1)
            {
                // A not transposed: each row of op(A) is contiguous in p; scatter it down the panel.
                for (int i = 0; i < rows; i++)
                {
                    T* src = a.At(i0 + i, 0);
                    for (int p = 0; p < kc; p++) dst[p * MR + i] = src[p];
                }
            }
            else
            {
                // A transposed (RowStride == 1): the MR values for one p are contiguous.
                for (int p = 0; p < kc; p++)
                {
                    T* src = a.At(i0, p);
                    for (int i = 0; i < rows; i++) dst[p * MR + i] = src[i];
                }
            }
        }
    }

    /// <summary>One MR-row panel of Ã in float32: rows·kc values of op(A), zero rows below <paramref name="rows"/>.</summary>
    private static void PackAPanelFloat(StridedMatrix<float> a, int rows, int kc, float* dst)
    {
        const int mr = MR;
        int p = 0;
        if (a.ColumnStride == 1)
        {
            // Each row of op(A) runs along p: load 8 p of every row, transpose, and store one 6-wide p row at a time
            // (8-wide stores in increasing p: each one's two extra lanes are overwritten by the next).
            float* r0p = a.At(0, 0), r1p = a.At(Math.Min(1, rows - 1), 0), r2p = a.At(Math.Min(2, rows - 1), 0);
            float* r3p = a.At(Math.Min(3, rows - 1), 0), r4p = a.At(Math.Min(4, rows - 1), 0), r5p = a.At(Math.Min(5, rows - 1), 0);
            var zero = Vector256<float>.Zero;
            for (; p + 8 <= kc; p += 8)
            {
                var v0 = Vector256.Load(r0p + p);
                var v1 = rows > 1 ? Vector256.Load(r1p + p) : zero;
                var v2 = rows > 2 ? Vector256.Load(r2p + p) : zero;
                var v3 = rows > 3 ? Vector256.Load(r3p + p) : zero;
                var v4 = rows > 4 ? Vector256.Load(r4p + p) : zero;
                var v5 = rows > 5 ? Vector256.Load(r5p + p) : zero;
                var v6 = zero;
                var v7 = zero;
                CpuGemmTranspose.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                float* to = dst + p * mr;
                v0.Store(to); v1.Store(to + mr); v2.Store(to + 2 * mr); v3.Store(to + 3 * mr);
                v4.Store(to + 4 * mr); v5.Store(to + 5 * mr); v6.Store(to + 6 * mr); v7.Store(to + 7 * mr);
            }
        }
        else if (rows == mr)
        {
            // A transposed: the MR values of one p are contiguous (4 + 2).
            for (; p < kc; p++)
            {
                float* src = a.At(0, p), to = dst + p * mr;
                Vector128.Load(src).Store(to);
                to[4] = src[4];
                to[5] = src[5];
            }
        }
        for (; p < kc; p++)
            for (int i = 0; i < mr; i++) dst[p * mr + i] = i < rows ? *a.At(i, p) : 0f;
    }

    /// <summary>Packs op(B)[0..kc, 0..nc] (already offset to the block) into NR-column panels.</summary>
    public static void PackB(StridedMatrix<T> b, int kc, int nc, T* dst)
    {
        int nr = CpuGemmDriver<T>.NR, lanes = Vector256<T>.Count;
        for (int j0 = 0; j0 < nc; j0 += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - j0);
            if (typeof(T) == typeof(float) && b.RowStride == 1 && CpuGemmTranspose.IsSupported)
            {
                PackBTransposedPanelFloat(new StridedMatrix<float>((float*)b.Data, b.RowStride, b.ColumnStride).From(0, j0), kc, cols, nr, (float*)dst);
                continue;
            }
            if (b.ColumnStride == 1)
            {
                // B not transposed: the NR values of one row p are contiguous — NR/lanes vector copies.
                for (int p = 0; p < kc; p++)
                {
                    T* src = b.At(p, j0);
                    T* to = dst + p * nr;
                    if (cols == nr)
                    {
                        for (int j = 0; j < nr; j += lanes) Vector256.Store(Vector256.Load(src + j), to + j);
                    }
                    else
                    {
                        for (int j = 0; j < cols; j++) to[j] = src[j];
                        for (int j = cols; j < nr; j++) to[j] = T.Zero;
                    }
                }
            }
            else
            {
                // B transposed (a dense layer's W in the forward pass): each column of op(B) is contiguous in p.
                if (cols < nr) new Span<T>(dst, nr * kc).Clear();
                for (int j = 0; j < cols; j++)
                {
                    T* src = b.At(0, j0 + j);
                    for (int p = 0; p < kc; p++) dst[p * nr + j] = src[p];
                }
            }
        }
    }

    /// <summary>
    /// One NR-column panel of B̃ in float32 (NR = 16 for the AVX2 micro-kernel, 32 for AVX-512) when op(B) is a
    /// transposed matrix (a dense layer's W in the forward pass): column j of op(B) is row j of W, contiguous in p.
    /// Eight p of 8 columns at a time are loaded and transposed into p-major order; columns at or beyond
    /// <paramref name="cols"/> are written as zeros.
    /// </summary>
    private static void PackBTransposedPanelFloat(StridedMatrix<float> b, int kc, int cols, int nr, float* dst)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
            for (int j = 0; j < nr; j += 8)
            {
                var v0 = Column(b, j, p, cols); var v1 = Column(b, j + 1, p, cols);
                var v2 = Column(b, j + 2, p, cols); var v3 = Column(b, j + 3, p, cols);
                var v4 = Column(b, j + 4, p, cols); var v5 = Column(b, j + 5, p, cols);
                var v6 = Column(b, j + 6, p, cols); var v7 = Column(b, j + 7, p, cols);
                CpuGemmTranspose.Transpose8x8(ref v0, ref v1, ref v2, ref v3, ref v4, ref v5, ref v6, ref v7);
                float* to = dst + p * nr + j;
                v0.Store(to); v1.Store(to + nr); v2.Store(to + 2 * nr); v3.Store(to + 3 * nr);
                v4.Store(to + 4 * nr); v5.Store(to + 5 * nr); v6.Store(to + 6 * nr); v7.Store(to + 7 * nr);
            }
        for (; p < kc; p++)
            for (int j = 0; j < nr; j++) dst[p * nr + j] = j < cols ? *b.At(p, j) : 0f;

        static Vector256<float> Column(StridedMatrix<float> b, int j, int p, int cols) =>
            j < cols ? Vector256.Load(b.At(p, j)) : Vector256<float>.Zero;
    }
}
