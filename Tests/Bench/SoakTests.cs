using Engine.Bench.Soak;
using Engine.Kernels.Cpu;

namespace Engine.Tests.Bench;

/// <summary>
/// Tests that read process-wide memory figures (<c>GC.GetTotalAllocatedBytes</c>, the heap after a full GC). They run in
/// a collection with parallelization disabled, so no other test allocates while they measure: in a parallel run another
/// class's allocations land in the "all threads" figure (seen twice in ten full runs: 560 bytes per step in one interval
/// against 69 after warm-up, none of them the soak's).
/// </summary>
[CollectionDefinition(nameof(ProcessWideMemory), DisableParallelization = true)]
public sealed class ProcessWideMemory;

/// <summary>The soak benchmark's harness (Bench/Soak/Soak.cs): its verdict on synthetic samples, and a short real run
/// through Trainer.Fit judged by bytes only (never by time).</summary>
[Collection(nameof(ProcessWideMemory))]
public sealed class SoakTests
{
    private static SoakSample S(long steps, long heap, long allocated) => new(steps, TimeSpan.Zero, heap, allocated, allocated, 0);

    [Fact]
    public void Flat_memory_passes_and_a_growing_heap_or_allocation_rate_fails()
    {
        // Constant 1 000 bytes per 100 steps after warm-up (sample 1), heap flat within a few bytes.
        SoakSample[] flat = [S(0, 5_000_000, 0), S(100, 9_000_000, 900_000), S(200, 9_000_100, 901_000), S(300, 9_000_050, 902_000), S(400, 9_000_000, 903_000)];
        Assert.True(Soak.Judge(flat, 1, heapSlack: 1000, allocationSlack: 0).Passed);

        var leak = flat.ToArray();
        leak[4] = S(400, 9_002_000, 903_000);                                  // heap +2 000 > slack 1 000
        var (passed, verdict) = Soak.Judge(leak, 1, heapSlack: 1000, allocationSlack: 0);
        Assert.False(passed);
        Assert.Contains("managed heap grew by 2,000 bytes", verdict);

        var allocating = flat.ToArray();
        allocating[4] = S(400, 9_000_000, 904_200);                             // 2 200 bytes in the last interval against 1 000
        (passed, verdict) = Soak.Judge(allocating, 1, heapSlack: 1000, allocationSlack: 0);
        Assert.False(passed);
        Assert.Contains("allocation (all threads) grew: 22.0 bytes per step", verdict);
        Assert.True(Soak.Judge(allocating, 1, heapSlack: 1000, allocationSlack: 2000).Passed);   // within the stated slack

        Assert.Throws<ArgumentOutOfRangeException>(() => Soak.Judge(flat, 4, 0, 0));          // warm-up must end before the last sample
    }

    /// <summary>2 000 real steps (20 epochs of 100): the heap stays flat and the per-interval allocation does not grow;
    /// the per-step figure is the trainer's per-epoch work only (well under a kilobyte a step), the steps allocating nothing.</summary>
    [Fact]
    public void Two_thousand_real_steps_keep_memory_flat()
    {
        using var backend = new CpuBackend<float>(1);
        var result = Soak.Run(new SoakOptions { Steps = 2_000, StepsPerEpoch = 100, Samples = 10, WarmupFraction = 0.2 }, backend);
        Assert.Equal(11, result.Samples.Count);                                 // the start and 10 samples
        Assert.Equal([0L, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000], result.Samples.Select(s => s.Steps));
        Assert.Equal(2, result.Warmup);                                         // 20 % of 2 000 steps: the sample at step 400
        Assert.True(result.Passed, result.Verdict);
        Assert.InRange(result.AllocatedBytesPerStep, 0, 1024);
    }

    [Fact]
    public void Steps_that_are_not_whole_epochs_are_refused()
    {
        using var backend = new CpuBackend<float>(1);
        var e = Assert.Throws<ArgumentException>(() => Soak.Run(new SoakOptions { Steps = 150, StepsPerEpoch = 100 }, backend));
        Assert.Contains("must be a positive multiple of --steps-per-epoch", e.Message);
    }
}
