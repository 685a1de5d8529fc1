using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <summary>Columns per chunk of the Gram and combination passes: small enough that a chunk of every
    /// task's row stays in L2 while all pairs are formed from it (8192 floats = 32 KiB per row).</summary>
    private const int CombinationChunk = 8192;

    /// <inheritdoc/>
    /// <remarks>
    /// The columns are cut into chunks of <see cref="CombinationChunk"/>; each chunk (in parallel) forms all
    /// T(T+1)/2 pair dot products with SIMD (<see cref="TensorPrimitives.Dot{T}(ReadOnlySpan{T}, ReadOnlySpan{T})"/>)
    /// into its own row of partial sums (a per-thread buffer, so no allocation per call in steady state); the partials are then
    /// added in chunk order in float64, so the result does not depend on thread scheduling.
    /// </remarks>
    public override void Gram(View<T> vectors, int count, int length, View<T> gram)
    {
        CombinationChecks.CheckGram(this, vectors, count, length, gram);
        int pairs = count * (count + 1) / 2;
        int chunks = Math.Max(1, (length + CombinationChunk - 1) / CombinationChunk);
        // This thread's buffer, grown never shrunk: ArrayPool.Shared would give its arrays back to the GC on a gen-2
        // collection under memory pressure, and the next step would allocate.
        var partials = t_gramPartials is { } held && held.Length >= chunks * pairs ? held : t_gramPartials = new T[chunks * pairs];
        {
            if (chunks == 1) GramChunk(vectors, count, length, 0, partials);
            else
            {
                var work = t_gramWork ??= new GramWork();
                (work.Vectors, work.Count, work.Length, work.Partials) = (vectors, count, length, partials);
                Workers.Run(work, chunks);
                (work.Vectors, work.Partials) = (default, null);
            }

            Span<T> g = gram.Span();
            int pair = 0;
            for (int i = 0; i < count; i++)
                for (int j = i; j < count; j++, pair++)
                {
                    double sum = 0;
                    for (int c = 0; c < chunks; c++) sum += double.CreateTruncating(partials[c * pairs + pair]);
                    g[i * count + j] = g[j * count + i] = T.CreateTruncating(sum);
                }
        }
    }

    [ThreadStatic] private static T[]? t_gramPartials;

    private static void GramChunk(View<T> vectors, int count, int length, int chunk, T[] partials)
    {
        int start = chunk * CombinationChunk, width = Math.Min(CombinationChunk, length - start);
        int pairs = count * (count + 1) / 2, pair = 0;
        ReadOnlySpan<T> v = vectors.Span();
        for (int i = 0; i < count; i++)
        {
            var vi = v.Slice(i * length + start, width);
            for (int j = i; j < count; j++, pair++)
                partials[chunk * pairs + pair] = width > 0 ? TensorPrimitives.Dot(vi, v.Slice(j * length + start, width)) : T.Zero;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Chunked like <see cref="Gram"/>: per chunk of the output, one SIMD fused multiply-add pass per task, so the
    /// output chunk stays in cache and every input element is read once.</remarks>
    public override void LinearCombination(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate)
    {
        CombinationChecks.CheckLinearCombination(this, vectors, count, length, coefficients, output);
        int chunks = (length + CombinationChunk - 1) / CombinationChunk;
        if (chunks <= 1) CombineChunk(vectors, count, length, coefficients, output, accumulate, 0);
        else
        {
            var work = t_combineWork ??= new CombineWork();
            (work.Vectors, work.Count, work.Length, work.Coefficients, work.Output, work.Accumulate) = (vectors, count, length, coefficients, output, accumulate);
            Workers.Run(work, chunks);
            (work.Vectors, work.Coefficients, work.Output) = (default, default, default);
        }
    }

    // One reusable work object per calling thread for each pass (no allocation per call).
    [ThreadStatic] private static GramWork? t_gramWork;
    [ThreadStatic] private static CombineWork? t_combineWork;

    private sealed class GramWork : ParallelWork
    {
        public View<T> Vectors;
        public int Count, Length;
        public T[]? Partials;
        public override void Execute(int item) => GramChunk(Vectors, Count, Length, item, Partials!);
    }

    private sealed class CombineWork : ParallelWork
    {
        public View<T> Vectors, Coefficients, Output;
        public int Count, Length;
        public bool Accumulate;
        public override void Execute(int item) => CombineChunk(Vectors, Count, Length, Coefficients, Output, Accumulate, item);
    }

    private static void CombineChunk(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate, int chunk)
    {
        int start = chunk * CombinationChunk, width = Math.Min(CombinationChunk, length - start);
        if (width <= 0) return;
        ReadOnlySpan<T> v = vectors.Span(), a = coefficients.Span();
        Span<T> o = output.Span().Slice(start, width);
        int first = 0;
        if (!accumulate)
        {
            TensorPrimitives.Multiply(v.Slice(start, width), a[0], o);
            first = 1;
        }
        for (int i = first; i < count; i++)
            TensorPrimitives.FusedMultiplyAdd(v.Slice(i * length + start, width), a[i], o, o);
    }

}
