using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The fused pass of MoCo's tracking and DB-MTL's moving average: every row i of a T × P block is updated in place,
/// <c>yᵢ ← keep·yᵢ + (multiplier·factorsᵢ)·gᵢ</c>, and the Gram matrix of the updated rows (all T(T+1)/2 pairs), or only
/// its diagonal, the rows' squared norms, comes out of the same pass; so does, when asked, the rows' old values (the
/// skipped-step guard's copy, <see cref="Backend{T}.MocoTrack"/>'s <c>saved</c>). Readable references:
/// <see cref="MocoReference"/> and <see cref="DbMtlReference"/>.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <remarks>
    /// Chunked like <see cref="Gram"/>: chunk c (<see cref="CombinationChunk"/> columns, in parallel) runs, per row i, one
    /// SIMD loop that reads yᵢ and gᵢ once, writes the new yᵢ once and sums its squares (<see cref="UpdateRow"/>); with
    /// <paramref name="allPairs"/>, the products yᵢ·yⱼ (j &lt; i) are then formed against the chunk's rows already updated,
    /// which are still in L2 (T × 32 KiB), so memory is crossed once. Each chunk writes its own row of float64 partials (a
    /// per-thread buffer, no allocation per call in steady state), added in chunk order so the result does not depend on
    /// scheduling. <paramref name="output"/> gets the T × T Gram matrix with <paramref name="allPairs"/>, else the T
    /// squared norms; a non-empty <paramref name="saved"/> the rows as they were.
    /// </remarks>
    private void UpdateRowsAndGram(View<T> rows, View<T> vectors, int count, int length, T keep, T multiplier, View<T> factors,
        bool allPairs, View<T> output, View<T> saved)
    {
        int sums = allPairs ? count * (count + 1) / 2 : count;
        int chunks = Math.Max(1, (length + CombinationChunk - 1) / CombinationChunk);
        var partials = t_rowPartials is { } held && held.Length >= chunks * sums ? held : t_rowPartials = new double[chunks * sums];
        var work = t_rowWork ??= new RowWork();
        (work.Rows, work.Vectors, work.Factors, work.Saved, work.Partials) = (rows, vectors, factors, saved, partials);
        (work.Count, work.Length, work.Keep, work.Multiplier, work.AllPairs) = (count, length, keep, multiplier, allPairs);
        if (chunks == 1) work.Execute(0);
        else Workers.Run(work, chunks);
        (work.Rows, work.Vectors, work.Factors, work.Saved, work.Partials) = (default, default, default, default, null);

        Span<T> o = output.Span();
        for (int i = 0, sum = 0; i < count; i++)
            for (int j = allPairs ? 0 : i; j <= i; j++, sum++)
            {
                double total = 0;
                for (int c = 0; c < chunks; c++) total += partials[c * sums + sum];
                if (allPairs) o[i * count + j] = o[j * count + i] = T.CreateTruncating(total);
                else o[i] = T.CreateTruncating(total);
            }
    }

    // This thread's partials (grown never shrunk, as the Gram's) and its reusable work object.
    [ThreadStatic] private static double[]? t_rowPartials;
    [ThreadStatic] private static RowWork? t_rowWork;

    private sealed class RowWork : ParallelWork
    {
        public View<T> Rows, Vectors, Factors, Saved;
        public double[]? Partials;
        public int Count, Length;
        public T Keep, Multiplier;
        public bool AllPairs;

        /// <summary>Chunk <paramref name="item"/>: its partials in the order (0,0), (1,0), (1,1), (2,0), … (lower
        /// triangle by rows) with all pairs, else one per row.</summary>
        public override void Execute(int item)
        {
            int start = item * CombinationChunk, width = Math.Min(CombinationChunk, Length - start);
            int sums = AllPairs ? Count * (Count + 1) / 2 : Count, sum = item * sums;
            // Row i is updated, then multiplied by the rows before it, which this chunk has already updated.
            Span<T> y = Rows.Span();
            ReadOnlySpan<T> g = Vectors.Span(), f = Factors.Span();
            Span<T> old = Saved.IsEmpty ? default : Saved.Span();
            for (int i = 0; i < Count; i++)
            {
                var yi = y.Slice(i * Length + start, width);
                var saved = old.IsEmpty ? old : old.Slice(i * Length + start, width);
                double squares = double.CreateTruncating(UpdateRow(yi, g.Slice(i * Length + start, width), Keep, Multiplier * f[i], saved));
                if (AllPairs)
                    for (int j = 0; j < i; j++)
                        Partials![sum++] = double.CreateTruncating(TensorPrimitives.Dot(yi, y.Slice(j * Length + start, width)));
                Partials![sum++] = squares;
            }
        }
    }

    /// <summary>y ← keep·y + scale·g (the product keep·y rounded, then one fused multiply-add, as TensorPrimitives'
    /// Multiply then FusedMultiplyAdd did it) in one SIMD sweep; returns Σ y² of the new values. A non-empty
    /// <paramref name="saved"/> (as long as y) gets the old y.</summary>
    private static T UpdateRow(Span<T> y, ReadOnlySpan<T> g, T keep, T scale, Span<T> saved)
    {
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T sr = ref MemoryMarshal.GetReference(saved);
        bool save = !saved.IsEmpty;
        int n = y.Length, k = 0, width = Vector<T>.Count;
        T total = T.Zero;
        if (Vector.IsHardwareAccelerated && n >= width)
        {
            Vector<T> vKeep = new(keep), vScale = new(scale), squares = Vector<T>.Zero;
            for (; k <= n - width; k += width)
            {
                var a = Vector.LoadUnsafe(ref yr, (nuint)k);
                if (save) a.StoreUnsafe(ref sr, (nuint)k);
                var v = Fma(Vector.LoadUnsafe(ref gr, (nuint)k), vScale, vKeep * a);
                v.StoreUnsafe(ref yr, (nuint)k);
                squares = Fma(v, v, squares);
            }
            total = Vector.Sum(squares);
        }
        for (; k < n; k++)
        {
            T a = Unsafe.Add(ref yr, k);
            if (save) Unsafe.Add(ref sr, k) = a;
            T v = T.FusedMultiplyAdd(Unsafe.Add(ref gr, k), scale, keep * a);
            Unsafe.Add(ref yr, k) = v;
            total = T.FusedMultiplyAdd(v, v, total);
        }
        return total;
    }

    /// <summary>x·y + z with one rounding (vfmadd on AVX2/AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fma(Vector<T> x, Vector<T> y, Vector<T> z)
    {
        if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
        return x * y + z;
    }
}
