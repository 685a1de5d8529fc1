using System.Numerics;
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
/// </summary>
internal static unsafe class CpuGemmPacking<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int MR = CpuGemmDriver<T>.MR;

    /// <summary>Packs op(A)[0..mc, 0..kc] (already offset to the block) into MR-row panels.</summary>
    public static void PackA(StridedMatrix<T> a, int mc, int kc, T* dst)
    {
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

    /// <summary>Packs op(B)[0..kc, 0..nc] (already offset to the block) into NR-column panels.</summary>
    public static void PackB(StridedMatrix<T> b, int kc, int nc, T* dst)
    {
        int nr = CpuGemmDriver<T>.NR, lanes = Vector256<T>.Count;
        for (int j0 = 0; j0 < nc; j0 += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - j0);
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
}
