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
    /// (Parallel.For costs microseconds and allocates; a small model's step must do neither).</summary>
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

    // Kept apart so that the closure below is only allocated on the parallel (large) path.
    private unsafe double RunOptimizerChunksParallel<TJob>(TJob job, int items, int chunks) where TJob : struct, IOptimizerChunkJob
    {
        double* partials = stackalloc double[OptimizerMaxChunks];
        int perChunk = ((items + chunks - 1) / chunks + 15) & ~15; // whole 64-byte lines for float
        nint address = (nint)partials; // the caller's frame outlives Parallel.For
        Parallel.For(0, chunks, ParallelOptions, c =>
        {
            long start = (long)c * perChunk;
            ((double*)address)[c] = start >= items ? 0 : job.Run((int)start, (int)Math.Min(perChunk, items - start));
        });
        double total = 0;
        for (int c = 0; c < chunks; c++) total += partials[c];
        return total;
    }
}
