using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The CPU backend's own worker threads (<see cref="CpuWorkers"/>), which replaced Parallel.For: every item runs
/// exactly once, errors surface in the caller, concurrent callers are safe, and a warm parallel kernel allocates
/// nothing on the calling thread.
/// </summary>
[Collection(nameof(MeasuredThreadAllocations))]
public class CpuWorkersTests
{
    private sealed class CountingWork(int items) : ParallelWork
    {
        public readonly int[] Runs = new int[items];
        public readonly HashSet<int> Threads = [];
        public override void Execute(int item)
        {
            Interlocked.Increment(ref Runs[item]);
            lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
            Thread.SpinWait(2000); // long enough that the helper takes items too
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 7)]
    [InlineData(3, 64)]
    [InlineData(4, 1000)]
    public void Every_item_runs_exactly_once_on_at_most_the_given_number_of_threads(int threads, int items)
    {
        using var workers = new CpuWorkers(threads);
        for (int run = 0; run < 20; run++)
        {
            var work = new CountingWork(items);
            workers.Run(work, items);
            Assert.All(work.Runs, r => Assert.Equal(1, r));
            // At most one thread per worker (the caller included). The caller usually takes items too, but woken helpers
            // can drain cheap items before it gets one, so that is not asserted (it made this test flaky).
            Assert.InRange(work.Threads.Count, 1, Math.Min(threads, items));
        }
    }

    /// <summary>Sleeps <c>Milliseconds(item)</c> per item; counts finished items.</summary>
    private sealed class SleepingWork(Func<int, int> milliseconds) : ParallelWork
    {
        public int Finished;
        public override void Execute(int item)
        {
            Thread.Sleep(milliseconds(item));
            Interlocked.Increment(ref Finished);
        }
    }

    [Fact]
    public void A_helper_late_to_check_out_of_one_run_cannot_end_the_next_run_early()
    {
        // Run A: the caller takes item 0 (5 ms), the helper item 1 (0 ms); the helper checks out (the count reaches 0)
        // and is then held for 25 ms before it signals, so the caller, spinning, sees the count at 0 and returns from A.
        // Run B (40 items of 2 ms, the last one 30 ms) starts meanwhile; the helper joins it late. The old code reset
        // a "done" flag at the start of B, which the held signal of A then set again: B returned as soon as the caller
        // ran out of items while the helper was still inside one (a wrong GEMM tile in a loaded test run). Which
        // thread takes which item varies, so the scenario is repeated.
        using var workers = new CpuWorkers(2);
        for (int round = 0; round < 8; round++)
        {
            int held = 0;
            workers.OnHelperCheckedOut = () => { if (Interlocked.Exchange(ref held, 1) == 0) Thread.Sleep(25); };
            workers.Run(new SleepingWork(item => item == 0 ? 5 : 0), 2);     // run A
            var b = new SleepingWork(item => item == 39 ? 30 : 2);
            workers.Run(b, 40);                                              // run B
            Assert.Equal(40, Volatile.Read(ref b.Finished));
            workers.OnHelperCheckedOut = null;
        }
    }

    private sealed class FailingWork : ParallelWork
    {
        public override void Execute(int item)
        {
            if (item == 3) throw new InvalidOperationException("item 3 failed");
        }
    }

    [Fact]
    public void An_exception_in_an_item_is_rethrown_in_the_caller_and_the_workers_stay_usable()
    {
        using var workers = new CpuWorkers(2);
        var error = Assert.Throws<InvalidOperationException>(() => workers.Run(new FailingWork(), 50));
        Assert.Equal("item 3 failed", error.Message);
        var work = new CountingWork(40);
        workers.Run(work, 40);
        Assert.All(work.Runs, r => Assert.Equal(1, r));
    }

    [Fact]
    public void Two_callers_sharing_the_workers_both_get_every_item_done()
    {
        using var workers = new CpuWorkers(2);
        var results = new CountingWork[2][];
        Parallel.For(0, 2, caller =>
        {
            results[caller] = new CountingWork[30];
            for (int run = 0; run < 30; run++)
            {
                results[caller][run] = new CountingWork(17);
                workers.Run(results[caller][run], 17);
            }
        });
        Assert.All(results.SelectMany(r => r), w => Assert.All(w.Runs, r => Assert.Equal(1, r)));
    }

    private sealed class SlowHelperWork : ParallelWork
    {
        private readonly int _caller = Environment.CurrentManagedThreadId;
        public int HelperItems;
        public override void Execute(int item)
        {
            if (Environment.CurrentManagedThreadId == _caller)
            {
                Thread.Sleep(1); // give the helper time to wake and take an item
                return;
            }
            HelperItems++;
            Thread.Sleep(3); // the caller finishes first and must block until the helper checks out
        }
    }

    [Fact]
    public void A_caller_that_blocks_waiting_for_a_helper_allocates_nothing()
    {
        // A blocking SemaphoreSlim.Wait allocates; the workers signal with Monitor.Wait/Pulse, which does not.
        using var workers = new CpuWorkers(2);
        var work = new SlowHelperWork();
        for (int i = 0; i < 5; i++) workers.Run(work, 4);
        WarmAllocations.AssertNone(() => { for (int i = 0; i < 30; i++) workers.Run(work, 4); });
        Assert.True(work.HelperItems > 0, "the helper never took an item, so the caller never had to wait");
    }

    [Fact]
    public void Parallel_kernels_allocate_nothing_once_warm()
    {
        // Sizes above every parallel threshold, on two threads: GEMM (both the shared-B and the column-slab
        // schemes), a chunked reduction, the Gram matrix and the linear combination.
        using var concrete = new CpuBackend<float>(2);
        Backend<float> cpu = concrete;
        using var a = cpu.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(256 * 256, 1)));
        using var b = cpu.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(256 * 256, 2)));
        using var c = cpu.Allocate<float>(256 * 256);
        using var wide = cpu.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(256 * 4096, 3)));
        using var slab = cpu.Allocate<float>(16 * 4096);
        using var big = cpu.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(3 * 100_000, 4)));
        using var scalar = cpu.Allocate<float>(1);
        using var gram = cpu.Allocate<float>(9);
        using var coefficients = cpu.Allocate<float>([1f, 0.5f, -1f]);
        using var combined = cpu.Allocate<float>(100_000);
        Action[] kernels =
        [
            () => cpu.Gemm(false, true, 256, 256, 256, 1f, a.View, b.View, 0f, c.View),               // m ≥ 4·threads·MR: shared B̃
            () => cpu.Gemm(false, false, 16, 4096, 256, 1f, a.Slice(0, 16 * 256), wide.View, 0f, slab.View),  // few rows: column slabs
            () => cpu.Sum(big.View, scalar.View, 1f),
            () => cpu.Gram(big.View, 3, 100_000, gram.View),
            () => cpu.LinearCombination(big.View, 3, 100_000, coefficients.View, combined.View, accumulate: false),
        ];
        for (int round = 0; round < 2; round++)
            foreach (var kernel in kernels) kernel();
        for (int k = 0; k < kernels.Length; k++)
        {
            var kernel = kernels[k];
            WarmAllocations.AssertNone(kernel, () => $"kernel {k} of shared-B̃ GEMM, column-slab GEMM, sum, Gram, combination");
        }
    }

    /// <summary>Records which thread ran each item.</summary>
    private sealed class ThreadOfItem(int items) : ParallelWork
    {
        public readonly int[] Thread = new int[items];
        public readonly int[] Runs = new int[items];
        public override void Execute(int item)
        {
            Interlocked.Increment(ref Runs[item]);
            Thread[item] = Environment.CurrentManagedThreadId;
            System.Threading.Thread.SpinWait(5000);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void RunOnEveryThread_runs_one_item_on_each_thread(int threads)
    {
        using var workers = new CpuWorkers(threads);
        for (int run = 0; run < 20; run++)
        {
            var work = new ThreadOfItem(threads);
            Assert.True(workers.RunOnEveryThread(work));
            Assert.All(work.Runs, r => Assert.Equal(1, r));
            Assert.Equal(threads, work.Thread.Distinct().Count());          // one item per thread, every thread
            Assert.Contains(Environment.CurrentManagedThreadId, work.Thread); // the caller is one of them
        }
    }

    [Fact]
    public void The_schedule_seam_puts_every_item_on_the_caller_or_on_the_helpers()
    {
        using var workers = new CpuWorkers(2);
        int caller = Environment.CurrentManagedThreadId;
        workers.Schedule = WorkerSchedule.CallerOnly;
        var work = new ThreadOfItem(8);
        workers.Run(work, 8);
        Assert.All(work.Thread, t => Assert.Equal(caller, t));
        workers.Schedule = WorkerSchedule.HelpersOnly;
        work = new ThreadOfItem(8);
        workers.Run(work, 8);
        Assert.All(work.Runs, r => Assert.Equal(1, r));
        Assert.All(work.Thread, t => Assert.NotEqual(caller, t));
    }
}
