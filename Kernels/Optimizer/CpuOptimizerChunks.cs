namespace Engine.Kernels.Cpu;

/// <summary>
/// A piece of optimizer work over elements [start, start + count) that returns a partial sum (0 when
/// there is nothing to sum). Each kernel describes its work as a small struct implementing this, so the
/// JIT specialises <see cref="CpuBackend{T}.RunOptimizerChunks{TJob}"/> per kernel and inlines the body.
/// </summary>
internal interface IOptimizerChunkJob
{
    double Run(int start, int count);
}

public sealed partial class CpuBackend<T>
{
    /// <summary>Below this many elements an optimizer kernel runs inline on the calling thread
    /// (waking a worker costs microseconds, which a small model's step must not pay).</summary>
    internal const int OptimizerParallelThreshold = 1 << 16;

    /// <summary>Most chunks one optimizer call is split into (partials live in a stack array of this size).</summary>
    private const int OptimizerMaxChunks = 64;

    /// <summary>Smallest chunk worth handing to another core.</summary>
    private const int OptimizerMinChunk = 1 << 14;

    /// <summary>
    /// Runs <paramref name="job"/> over <paramref name="items"/> elements and returns the sum of the
    /// chunks' partial results, added in chunk order. The number of chunks depends only on the size,
    /// never on the thread count, so a reduction gives the same bits however many cores run it.
    /// </summary>
    internal double RunOptimizerChunks<TJob>(TJob job, int items) where TJob : struct, IOptimizerChunkJob
    {
        if (items < OptimizerParallelThreshold || Threads == 1) return job.Run(0, items);
        int chunks = Math.Min(OptimizerMaxChunks, items / OptimizerMinChunk);
        return chunks <= 1 ? job.Run(0, items) : RunOptimizerChunksParallel(job, items, chunks);
    }

    private unsafe double RunOptimizerChunksParallel<TJob>(TJob job, int items, int chunks) where TJob : struct, IOptimizerChunkJob
    {
        double* partials = stackalloc double[OptimizerMaxChunks];
        int perChunk = ((items + chunks - 1) / chunks + 15) & ~15; // whole 64-byte lines for float
        var work = OptimizerChunkWork<TJob>.ForThisThread;
        work.Set(job, perChunk, items, partials); // the caller's frame outlives the run
        Workers.Run(work, chunks);
        work.Clear();
        double total = 0;
        for (int c = 0; c < chunks; c++) total += partials[c];
        return total;
    }

    /// <summary>An optimizer job as <see cref="ParallelWork"/> (item c = chunk c); one per calling thread and job type.</summary>
    private sealed unsafe class OptimizerChunkWork<TJob> : ParallelWork where TJob : struct, IOptimizerChunkJob
    {
        [ThreadStatic] private static OptimizerChunkWork<TJob>? t_instance;
        public static OptimizerChunkWork<TJob> ForThisThread => t_instance ??= new OptimizerChunkWork<TJob>();

        private TJob _job;
        private int _perChunk, _items;
        private double* _partials;

        public void Set(TJob job, int perChunk, int items, double* partials) { _job = job; _perChunk = perChunk; _items = items; _partials = partials; }
        public void Clear() { _job = default; _partials = null; }

        public override void Execute(int item)
        {
            long start = (long)item * _perChunk;
            _partials[item] = start >= _items ? 0 : _job.Run((int)start, (int)Math.Min(_perChunk, _items - start));
        }
    }
}
