using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// GradDrop on the CPU: chunks of <see cref="CombinationChunk"/> coordinates on the workers, <see cref="Vector{T}"/>
/// lanes inside a chunk (the task sums, the purity, the masks and the masked sum), the uniforms hashed 256 at a time on
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

    /// <summary>Coordinates whose uniforms are drawn at once (<see cref="CounterRandom.FillUniformSingles"/>, SIMD) before
    /// the vector loop reads them: 1 KiB on the stack.</summary>
    private const int UniformBlock = 256;

    private static void GradDropChunk(in GradDropJob job, int chunk)
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

    /// <summary>One vector of uniforms in T: the floats themselves when T is float, converted lane by lane otherwise.</summary>
    private static Vector<T> Uniforms(ReadOnlySpan<float> u, Span<T> lanes)
    {
        if (typeof(T) == typeof(float)) return new Vector<T>(System.Runtime.InteropServices.MemoryMarshal.Cast<float, T>(u));
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
