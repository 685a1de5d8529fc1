using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// GradDrop on the CPU: chunks of <see cref="CombinationChunk"/> coordinates on the workers, <see cref="Vector{T}"/>
/// lanes (<see cref="Vector512{T}"/> for float32 with AVX-512) inside a chunk (the task sums, the purity, the masks and the masked sum), the uniforms hashed 256 at a time on
/// SIMD lanes too (<see cref="CounterRandom.FillUniformSingles"/>: the same floats as <see cref="CounterRandom.UniformSingle"/>).
/// The readable reference is <see cref="GradDropScalar"/> (also the tail of every chunk): the same numbers in the same
/// order, one coordinate at a time. Maths: docs/maths.md §18.5.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void GradDrop(View<T> vectors, int count, int length, View<T> weights, T leak, ulong seed, View<double> steps, View<T> output)
    {
        CombinationChecks.CheckGradDrop(this, vectors, count, length, weights, double.CreateTruncating(leak), steps, output);
        Span<double> s = steps.Span();   // host memory on this backend: reading the count is no round trip
        long step = (long)s[0];
        s[1] = s[0] + 1;
        int chunks = (length + CombinationChunk - 1) / CombinationChunk;
        var job = new GradDropJob(vectors, count, length, weights, leak, seed, step, output);
        if (chunks <= 1) GradDropChunk(job, 0);
        else
        {
            var work = t_gradDropWork ??= new GradDropWork();
            work.Job = job;
            Workers.Run(work, chunks);
            work.Job = default;
        }
    }

    private readonly record struct GradDropJob(View<T> Vectors, int Count, int Length, View<T> Weights, T Leak, ulong Seed, long Step, View<T> Output);

    [ThreadStatic] private static GradDropWork? t_gradDropWork;

    private sealed class GradDropWork : ParallelWork
    {
        public GradDropJob Job;
        public override void Execute(int item) => GradDropChunk(Job, item);
    }

    /// <summary>Chunk <paramref name="chunk"/>: on 512-bit lanes for float32 where the CPU has AVX-512 (the loop is
    /// compute-bound: a division and a dozen compares and selects per coordinate), else on <see cref="Vector{T}"/>.</summary>
    private static void GradDropChunk(in GradDropJob job, int chunk)
    {
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated) GradDropChunk512(job, chunk);
        else GradDropChunkVector(job, chunk);
    }

    /// <summary>Coordinates whose uniforms are drawn at once (<see cref="CounterRandom.FillUniformSingles"/>, SIMD) before
    /// the vector loop reads them: 1 KiB on the stack.</summary>
    private const int UniformBlock = 256;

    private static void GradDropChunkVector(in GradDropJob job, int chunk)
    {
        int start = chunk * CombinationChunk, end = Math.Min(job.Length, start + CombinationChunk);
        ReadOnlySpan<T> g = job.Vectors.Span(), w = job.Weights.Span();
        Span<T> o = job.Output.Span();
        Span<float> uniforms = stackalloc float[UniformBlock];
        Span<T> lanes = stackalloc T[Vector<T>.Count];
        int count = job.Count, length = job.Length, k = start;
        var half = new Vector<T>(T.CreateTruncating(0.5));
        var leak = new Vector<T>(job.Leak);
        while (k + Vector<T>.Count <= end)
        {
            int block = Math.Min(UniformBlock, (end - k) / Vector<T>.Count * Vector<T>.Count), first = k;
            CounterRandom.FillUniformSingles(job.Seed, job.Step, first, uniforms[..block]);
            for (; k < first + block; k += Vector<T>.Count)
            {
                Vector<T> sum = Vector<T>.Zero, abs = Vector<T>.Zero;
                for (int i = 0; i < count; i++)
                {
                    var h = w[i] * new Vector<T>(g.Slice(i * length + k, Vector<T>.Count));
                    sum += h;
                    abs += Vector.Abs(h);
                }
                var positive = Vector.GreaterThan(abs, Vector<T>.Zero);
                var purity = Vector.ConditionalSelect(positive, half * (Vector<T>.One + sum / abs), half);
                var u = Uniforms(uniforms.Slice(k - first, Vector<T>.Count), lanes);
                Vector<T> keepPositive = Vector.GreaterThan(purity, u), keepNegative = Vector.LessThan(purity, u), total = Vector<T>.Zero;
                for (int i = 0; i < count; i++)
                {
                    var h = w[i] * new Vector<T>(g.Slice(i * length + k, Vector<T>.Count));
                    var kept = (keepPositive & Vector.GreaterThan(h, Vector<T>.Zero)) | (keepNegative & Vector.LessThan(h, Vector<T>.Zero));
                    total += h * Vector.ConditionalSelect(kept, Vector<T>.One, leak);
                }
                total.CopyTo(o.Slice(k, Vector<T>.Count));
            }
        }
        for (; k < end; k++) o[k] = GradDropScalar(g, w, count, length, k, job.Leak, job.Seed, job.Step);
    }

    /// <summary><see cref="GradDropChunkVector"/> for float32 on <see cref="Vector512{T}"/>: the same operations per lane in
    /// the same order (a product, sums in task order, one division, compares), so the same bits.</summary>
    private static void GradDropChunk512(in GradDropJob job, int chunk)
    {
        int start = chunk * CombinationChunk, end = Math.Min(job.Length, start + CombinationChunk);
        ReadOnlySpan<float> g = MemoryMarshal.Cast<T, float>(job.Vectors.Span()), w = MemoryMarshal.Cast<T, float>(job.Weights.Span());
        Span<float> o = MemoryMarshal.Cast<T, float>(job.Output.Span());
        Span<float> uniforms = stackalloc float[UniformBlock];
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float ur = ref MemoryMarshal.GetReference(uniforms);
        ref float or = ref MemoryMarshal.GetReference(o);
        int count = job.Count, length = job.Length, k = start, lanes = Vector512<float>.Count;
        Vector512<float> half = Vector512.Create(0.5f), one = Vector512<float>.One, zero = Vector512<float>.Zero;
        var leak = Vector512.Create(float.CreateTruncating(job.Leak));
        while (k + lanes <= end)
        {
            int block = Math.Min(UniformBlock, (end - k) / lanes * lanes), first = k;
            CounterRandom.FillUniformSingles(job.Seed, job.Step, first, uniforms[..block]);
            for (; k < first + block; k += lanes)
            {
                Vector512<float> sum = zero, abs = zero;
                for (int i = 0; i < count; i++)
                {
                    var h = w[i] * Vector512.LoadUnsafe(ref gr, (nuint)(i * length + k));
                    sum += h;
                    abs += Vector512.Abs(h);
                }
                var purity = Vector512.ConditionalSelect(Vector512.GreaterThan(abs, zero), half * (one + sum / abs), half);
                var u = Vector512.LoadUnsafe(ref ur, (nuint)(k - first));
                Vector512<float> keepPositive = Vector512.GreaterThan(purity, u), keepNegative = Vector512.LessThan(purity, u), total = zero;
                for (int i = 0; i < count; i++)
                {
                    var h = w[i] * Vector512.LoadUnsafe(ref gr, (nuint)(i * length + k));
                    var kept = (keepPositive & Vector512.GreaterThan(h, zero)) | (keepNegative & Vector512.LessThan(h, zero));
                    total += h * Vector512.ConditionalSelect(kept, one, leak);
                }
                total.StoreUnsafe(ref or, (nuint)k);
            }
        }
        ReadOnlySpan<T> gt = job.Vectors.Span(), wt = job.Weights.Span();
        Span<T> ot = job.Output.Span();
        for (; k < end; k++) ot[k] = GradDropScalar(gt, wt, count, length, k, job.Leak, job.Seed, job.Step);
    }

    /// <summary>One vector of uniforms in T: the floats themselves when T is float, converted lane by lane otherwise.</summary>
    private static Vector<T> Uniforms(ReadOnlySpan<float> u, Span<T> lanes)
    {
        if (typeof(T) == typeof(float)) return new Vector<T>(MemoryMarshal.Cast<float, T>(u));
        for (int l = 0; l < lanes.Length; l++) lanes[l] = T.CreateTruncating(u[l]);
        return new Vector<T>(lanes);
    }

    /// <summary>The readable reference: coordinate <paramref name="k"/> of GradDrop, as the formula reads.</summary>
    private static T GradDropScalar(ReadOnlySpan<T> g, ReadOnlySpan<T> w, int count, int length, int k, T leak, ulong seed, long step)
    {
        T sum = T.Zero, abs = T.Zero;
        for (int i = 0; i < count; i++)
        {
            T h = w[i] * g[i * length + k];
            sum += h;
            abs += T.Abs(h);
        }
        T half = T.CreateTruncating(0.5), purity = abs > T.Zero ? half * (T.One + sum / abs) : half;
        T u = T.CreateTruncating(CounterRandom.UniformSingle(seed, step, k)), total = T.Zero;
        for (int i = 0; i < count; i++)
        {
            T h = w[i] * g[i * length + k];
            bool kept = (purity > u && h > T.Zero) || (purity < u && h < T.Zero);
            total += h * (kept ? T.One : leak);
        }
        return total;
    }
}
