namespace Engine.Kernels.Cpu;

/// <summary>
/// A piece of work over items [start, start + count) that returns a partial sum (0 when there is
/// nothing to sum). Kernels describe their work as a small struct implementing this, so the JIT
/// specialises <see cref="CpuBackend{T}.RunChunks{TJob}"/> per kernel and inlines <see cref="Run"/>.
/// </summary>
internal interface IChunkJob
{
    double Run(int start, int count);
}

public sealed partial class CpuBackend<T>
{
    /// <summary>Below this much work (elements touched) a kernel runs inline on the calling thread:
    /// waking a worker costs microseconds, which small tensors must not pay.</summary>
    internal const int ParallelThreshold = 1 << 16;

    /// <summary>The smallest chunk worth handing to another core.</summary>
    private const int MinChunkWork = 1 << 14;

    /// <summary>Most chunks one call is split into (partial sums live in a stack array of this size).</summary>
    private const int MaxChunks = 64;

    /// <summary>
    /// Runs <paramref name="job"/> over <paramref name="items"/> items and returns the sum of the
    /// chunks' partial results, added in chunk order. Small work runs inline as one chunk (no
    /// allocation, no thread hop). Large work is cut into chunks whose number depends only on the
    /// size of the work, never on the thread count, so a reduction returns the same bits however
    /// many cores run it.
    /// </summary>
    /// <param name="job">The work, as a struct (specialised and inlined by the JIT).</param>
    /// <param name="items">Number of items (elements, rows or column blocks).</param>
    /// <param name="costPerItem">Elements touched per item (1 for elementwise work, the row length for row work).</param>
    internal double RunChunks<TJob>(TJob job, int items, int costPerItem = 1) where TJob : struct, IChunkJob
    {
        long work = (long)items * costPerItem;
        if (items <= 1 || work < ParallelThreshold) return job.Run(0, items);
        int chunks = (int)Math.Min(Math.Min(MaxChunks, items), work / MinChunkWork);
        return chunks <= 1 ? job.Run(0, items) : RunChunksParallel(job, items, chunks);
    }

    private unsafe double RunChunksParallel<TJob>(TJob job, int items, int chunks) where TJob : struct, IChunkJob
    {
        double* partials = stackalloc double[MaxChunks];
        // Chunk starts are multiples of 16 items: whole 64-byte lines for float elementwise work.
        int perChunk = ((items + chunks - 1) / chunks + 15) & ~15;
        if (Threads == 1)
        {
            for (int i = 0; i < chunks; i++) partials[i] = RunOne(job, i, perChunk, items);
        }
        else
        {
            var work = ChunkWork<TJob>.ForThisThread;
            work.Set(job, perChunk, items, partials); // the caller's stack frame outlives the run
            Workers.Run(work, chunks);
            work.Clear();
        }
        double total = 0;
        for (int i = 0; i < chunks; i++) total += partials[i];
        return total;
    }

    /// <summary>A chunked job as <see cref="ParallelWork"/>: item i is chunk i, its partial sum stored at partials[i].
    /// One instance per calling thread and job type, reused.</summary>
    private sealed unsafe class ChunkWork<TJob> : ParallelWork where TJob : struct, IChunkJob
    {
        [ThreadStatic] private static ChunkWork<TJob>? t_instance;
        public static ChunkWork<TJob> ForThisThread => t_instance ??= new ChunkWork<TJob>();

        private TJob _job;
        private int _perChunk, _items;
        private double* _partials;

        public void Set(TJob job, int perChunk, int items, double* partials) { _job = job; _perChunk = perChunk; _items = items; _partials = partials; }
        public void Clear() { _job = default; _partials = null; }
        public override void Execute(int item) => _partials[item] = RunOne(_job, item, _perChunk, _items);
    }

    private static double RunOne<TJob>(TJob job, int chunk, int perChunk, int items) where TJob : struct, IChunkJob
    {
        long start = (long)chunk * perChunk;
        if (start >= items) return 0;
        return job.Run((int)start, (int)Math.Min(perChunk, items - start));
    }

    private static double ToDouble(T value) => double.CreateTruncating(value);

    private static T FromDouble(double value) => T.CreateTruncating(value);
}
