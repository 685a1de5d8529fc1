namespace Engine.Tests.Infrastructure;

/// <summary>
/// "A warm step allocates nothing", decided by whether the allocation recurs (issue #16).
/// <para>What the flaky failures were: one window, now and then, allocating 3–8 KB on the measuring thread — 6,576 bytes in
/// step 113 of 200 identical warm FairGrad steps on one thread (steps 0–112 and 114–199: 0 bytes), 5,840–6,840 bytes in
/// one window of AllocationTests, 3,184–4,128 bytes in one warm column-slab GEMM — only in processes where other test
/// classes ran at the same time, never in 20+ runs of a class alone, never twice in a row. A step whose code path is
/// the same every time cannot allocate in step 113 only: these are one-off costs of the runtime on that thread (one
/// was identified and is removed before every window: the thread-static table growth, <see cref="ThreadStaticTable"/>;
/// the rest were not pinned down: not a GC on another thread — measured, that moves the counter by 24 bytes at most —,
/// not monitor inflation, not tiered compilation switched off).</para>
/// <para>The code's own allocations recur: a warm path that allocates does so every time it runs. So a window that
/// allocated is measured once more, identically; the check fails when the second allocates too (both numbers in the
/// message), and the first alone is not a failure. Code that allocates only the first time a thread takes some path is
/// caught where that path is forced deterministically (<see cref="AssertNoneInAFreshRun"/> repeats the whole scenario,
/// warm-up included, rather than the window).</para>
/// </summary>
internal static class WarmAllocations
{
    /// <summary>Bytes the calling thread allocates while <paramref name="window"/> runs (its thread-static table grown first).</summary>
    public static long Measure(Action window)
    {
        ThreadStaticTable.GrowForCurrentThread();
        long before = GC.GetAllocatedBytesForCurrentThread();
        window();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Asserts that the warm, repeatable <paramref name="window"/> allocates nothing on the calling thread: when one
    /// run of it allocated, an identical second run must not (see the class). <paramref name="describe"/> adds detail to the
    /// failure (called after the second run).</summary>
    public static void AssertNone(Action window, Func<string>? describe = null)
    {
        long first = Measure(window);
        if (first == 0) return;
        long second = Measure(window);
        Assert.True(second == 0,
            $"{first} bytes allocated in a warm window and {second} bytes in the identical next one: the code allocates" +
            (describe is null ? "" : $" ({describe()})"));
    }

    /// <summary>Asserts that <paramref name="scenario"/> (its own warm-up, then a measured window; it returns the bytes the
    /// window allocated on the caller and on the helper threads) allocates nothing, repeating the whole scenario once when
    /// the first run allocated.</summary>
    public static void AssertNoneInAFreshRun(Func<(long Caller, long Helpers)> scenario)
    {
        var first = scenario();
        if (first == (0, 0)) return;
        var second = scenario();
        Assert.True(second == (0, 0),
            $"a fresh run of the scenario allocated (caller {first.Caller} B, helpers {first.Helpers} B) and so did an identical " +
            $"second one (caller {second.Caller} B, helpers {second.Helpers} B): the code allocates");
    }
}
