using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The register-blocked micro-kernel: an MR×NR = 6×(2 vectors) tile of C held in 12 Vector256
/// accumulators while k runs through one packed panel of Ã (MR values per step) and of B̃ (NR values
/// per step). Each step is 2 vector loads, 6 broadcasts and 12 fused multiply-adds — 12 FMAs per 2 loads,
/// enough to keep both of Zen3's FMA pipes busy. Written once over <typeparamref name="T"/>; the JIT
/// specialises it for float and double (the type tests below are constants and vanish).
/// </summary>
internal static unsafe class CpuGemmMicroKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>C[0..MR, 0..NR] = alpha·(Ã panel · B̃ panel) + beta·C (C not read unless <paramref name="readC"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, bool readC)
    {
        int L = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + L);
            var a0 = Vector256.Create(a[0]); c00 = Fma(a0, b0, c00); c01 = Fma(a0, b1, c01);
            var a1 = Vector256.Create(a[1]); c10 = Fma(a1, b0, c10); c11 = Fma(a1, b1, c11);
            var a2 = Vector256.Create(a[2]); c20 = Fma(a2, b0, c20); c21 = Fma(a2, b1, c21);
            var a3 = Vector256.Create(a[3]); c30 = Fma(a3, b0, c30); c31 = Fma(a3, b1, c31);
            var a4 = Vector256.Create(a[4]); c40 = Fma(a4, b0, c40); c41 = Fma(a4, b1, c41);
            var a5 = Vector256.Create(a[5]); c50 = Fma(a5, b0, c50); c51 = Fma(a5, b1, c51);
            a += 6;
            b += 2 * L;
        }
        var va = Vector256.Create(alpha);
        if (readC)
        {
            var vb = Vector256.Create(beta);
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
    private static void Update(T* c, int L, Vector256<T> x0, Vector256<T> x1, Vector256<T> alpha, Vector256<T> beta)
    {
        Vector256.Store(Fma(alpha, x0, beta * Vector256.Load(c)), c);
        Vector256.Store(Fma(alpha, x1, beta * Vector256.Load(c + L)), c + L);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Overwrite(T* c, int L, Vector256<T> x0, Vector256<T> x1, Vector256<T> alpha)
    {
        Vector256.Store(alpha * x0, c);
        Vector256.Store(alpha * x1, c + L);
    }

    /// <summary>x·y + z with one rounding (vfmadd231ps/pd on AVX2+FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        return x * y + z;
    }
}
