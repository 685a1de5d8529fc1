using System.Diagnostics;

namespace Engine.Bench.Gpu;

/// <summary>Per-call time of a device operation: median and fastest over the timed blocks, and the block's size.</summary>
public sealed record BlockTiming(double MedianMs, double MinMs, int CallsPerBlock, int Blocks);

/// <summary>
/// The timer of the <c>gpu</c> command, the same as <c>timed_blocks</c> in Bench/peers/torch_gpu_kernels.py so both
/// sides are measured alike: two calls (kernel compilation, the driver's JIT), warm-up calls for
/// <c>warmupMs</c> (the host's tiered JIT), then <c>repeats</c> blocks of back-to-back calls with ONE synchronisation
/// at the end of each block (so a short kernel is not charged a host round trip per call), each block lasting about
/// <c>blockMs</c>. Per-call time = block time / calls.
/// </summary>
public static class BlockTimer
{
    public static BlockTiming Measure(Action call, Action synchronize, int repeats, double blockMs, double warmupMs)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(synchronize);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        call();
        call();
        synchronize();
        var warm = Stopwatch.StartNew();
        int warmCalls = 0;
        do { call(); synchronize(); warmCalls++; } while (warm.Elapsed.TotalMilliseconds < warmupMs);
        double perCall = warm.Elapsed.TotalMilliseconds / warmCalls;
        int calls = (int)Math.Clamp(Math.Ceiling(blockMs / Math.Max(perCall, 1e-4)), 1, 10_000);
        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) call();
            synchronize();
            samples[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls;
        }
        Array.Sort(samples);
        double median = repeats % 2 == 1 ? samples[repeats / 2] : (samples[repeats / 2 - 1] + samples[repeats / 2]) / 2;
        return new BlockTiming(median, samples[0], calls, repeats);
    }
}
