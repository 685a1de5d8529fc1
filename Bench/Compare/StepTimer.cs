using System.Diagnostics;

namespace Engine.Bench.Compare;

/// <summary>What <see cref="StepTimer.Measure"/> found: per-call times over the timed blocks, and managed
/// allocation per call once warm (on the calling thread).</summary>
public sealed record Timing(double MedianMs, double MinMs, double MaxMs, int Blocks, int CallsPerBlock, double AllocatedBytesPerCall);

/// <summary>
/// A careful in-process timer for a step that takes from microseconds to seconds: warm up (at least five
/// calls and <see cref="WarmUpSeconds"/>), then time <c>repeats</c> blocks, each of enough back-to-back calls to last about
/// <see cref="MinBlockSeconds"/> (one call for slow steps), and report the median per-call time. A full
/// GC runs before every block (never inside one), so a collection triggered by earlier garbage is not
/// charged to the step. Managed allocation is measured over warm calls on the calling thread.
/// </summary>
public static class StepTimer
{
    /// <summary>Shortest block worth timing (the timer's resolution and scheduler noise are far below it).</summary>
    public const double MinBlockSeconds = 0.05;

    /// <summary>Warm-up time: long enough for .NET's tiered JIT to replace the quick first-tier code of every hot
    /// method with optimized (and profile-guided) code — a small step runs 3–4× slower in its first half second.</summary>
    public const double WarmUpSeconds = 1.5;

    public static Timing Measure(Action call, int repeats)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "repeats must be at least 1.");

        // Warm-up: JIT tiers, arena and pools sized, packing buffers grown, caches hot.
        var warm = Stopwatch.StartNew();
        int warmCalls = 0;
        while (warmCalls < 5 || (warm.Elapsed.TotalSeconds < WarmUpSeconds && warmCalls < 100_000))
        {
            call();
            warmCalls++;
        }
        double perCall = warm.Elapsed.TotalSeconds / warmCalls;
        int callsPerBlock = (int)Math.Clamp(Math.Ceiling(MinBlockSeconds / Math.Max(perCall, 1e-7)), 1, 100_000);

        // Allocation once warm, on the calling thread (the CPU backend's worker threads run kernels only; the process-wide
        // counter would also catch the JIT's background tier-up work, which is not the step's).
        Collect();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < callsPerBlock; i++) call();
        double allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)callsPerBlock;

        var samples = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            Collect();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < callsPerBlock; i++) call();
            samples[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / callsPerBlock;
        }
        Array.Sort(samples);
        double median = repeats % 2 == 1 ? samples[repeats / 2] : (samples[repeats / 2 - 1] + samples[repeats / 2]) / 2;
        return new Timing(median, samples[0], samples[^1], repeats, callsPerBlock, allocated);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
