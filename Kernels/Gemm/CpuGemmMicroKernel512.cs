using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The AVX-512 twin of <see cref="CpuGemmMicroKernel{T}"/>: the same 6×(2 vectors) tile and loop, with
/// 512-bit vectors, so a tile is 6×32 floats (6×16 doubles) held in 12 of the 32 zmm registers. Chosen by
/// <see cref="CpuGemmDriver{T}.UseVector512"/> where Vector512 is hardware-accelerated. (A wider MR, e.g. 14
/// rows × 2 zmm = 28 accumulators, would use the register file better; it would need its own packing of Ã.)
/// </summary>
internal static unsafe class CpuGemmMicroKernel512<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>C[0..MR, 0..NR] = alpha·(Ã panel · B̃ panel) + beta·C (C not read unless <paramref name="readC"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, bool readC)
    {
        int L = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + L);
            var a0 = Vector512.Create(a[0]); c00 = Fma(a0, b0, c00); c01 = Fma(a0, b1, c01);
            var a1 = Vector512.Create(a[1]); c10 = Fma(a1, b0, c10); c11 = Fma(a1, b1, c11);
            var a2 = Vector512.Create(a[2]); c20 = Fma(a2, b0, c20); c21 = Fma(a2, b1, c21);
            var a3 = Vector512.Create(a[3]); c30 = Fma(a3, b0, c30); c31 = Fma(a3, b1, c31);
            var a4 = Vector512.Create(a[4]); c40 = Fma(a4, b0, c40); c41 = Fma(a4, b1, c41);
            var a5 = Vector512.Create(a[5]); c50 = Fma(a5, b0, c50); c51 = Fma(a5, b1, c51);
            a += 6;
            b += 2 * L;
        }
        var va = Vector512.Create(alpha);
        if (readC)
        {
            var vb = Vector512.Create(beta);
            Update(c, L, c00, c01, va, vb); Update(c + ldc, L, c10, c11, va, vb);
            Update(c + 2 * ldc, L, c20, c21, va, vb); Update(c + 3 * ldc, L, c30, c31, va, vb);
            Update(c + 4 * ldc, L, c40, c41, va, vb); Update(c + 5 * ldc, L, c50, c51, va, vb);
        }
        else
        {
            Overwrite(c, L, c00, c01, va); Overwrite(c + ldc, L, c10, c11, va);
            Overwrite(c + 2 * ldc, L, c20, c21, va); Overwrite(c + 3 * ldc, L, c30, c31, va);
            Overwrite(c + 4 * ldc, L, c40, c41, va); Overwrite(c + 5 * ldc, L, c50, c51, va);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* c, int L, Vector512<T> x0, Vector512<T> x1, Vector512<T> alpha, Vector512<T> beta)
    {
        Vector512.Store(Fma(alpha, x0, beta * Vector512.Load(c)), c);
        Vector512.Store(Fma(alpha, x1, beta * Vector512.Load(c + L)), c + L);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Overwrite(T* c, int L, Vector512<T> x0, Vector512<T> x1, Vector512<T> alpha)
    {
        Vector512.Store(alpha * x0, c);
        Vector512.Store(alpha * x1, c + L);
    }

    /// <summary>x·y + z with one rounding (vfmadd231ps/pd on AVX2+FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        return x * y + z;
    }
}
