using System.Runtime.ExceptionServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Work cut into numbered items [0, count), run by <see cref="CpuWorkers"/>. A kernel keeps one instance per call
/// site (thread-static, so concurrent callers never share one) and refills its fields before each run: running
/// parallel work then allocates nothing, where every <c>Parallel.For</c> allocates a closure, a loop state and
/// task objects.
/// </summary>
internal abstract class ParallelWork
{
    /// <summary>Runs item <paramref name="item"/>. Items may run in any order, on any of the threads.</summary>
    public abstract void Execute(int item);
}

/// <summary>
/// The CPU backend's own threads: <c>threads − 1</c> dedicated background workers (started on first use) plus the
/// calling thread, which always takes part. A run hands out items one at a time through an atomic counter (so a
/// core slowed down by another process simply takes fewer items) and returns when all are done. Exactly
/// <c>threads</c> threads ever compute — no thread-pool growth, no oversubscription — and nothing is allocated
/// per run. If a second caller arrives while a run is in progress (two threads sharing one backend), it runs its
/// items on its own thread instead of waiting.
/// <para>Signalling is Monitor.Wait/Pulse after a short spin: a blocking SemaphoreSlim.Wait allocates (about 24 bytes
/// per blocked wait in .NET 10), which a zero-allocation step cannot afford; Monitor.Wait allocates nothing.</para>
/// </summary>
internal sealed class CpuWorkers : IDisposable
{
    /// <summary>Spins (each a few hundred cycles at most, yielding later ones) before a thread blocks: the gap
    /// between two kernels of a step is often shorter than a sleep/wake-up round trip.</summary>
    private const int SpinsBeforeBlocking = 20;

    private readonly int _helpers;
    private readonly object _wakeGate = new(), _doneGate = new(), _startLock = new();
    private Thread[]? _threads;
    private ParallelWork? _work;
    private int _items, _next, _running, _busy;
    private int _generation, _slots;   // under _wakeGate: the run number, and helpers still wanted for it
    private volatile bool _stopping;
    private ExceptionDispatchInfo? _error;

    /// <summary>Test seam: called on a helper right after it has checked out of a run (its decrement of the running
    /// count is done) and before it signals the caller. Null outside tests.</summary>
    internal Action? OnHelperCheckedOut { get; set; }

    /// <summary>Test seam: who takes the items of a run. <see cref="WorkerSchedule.Normal"/> outside tests.</summary>
    internal WorkerSchedule Schedule { get; set; }

    private long _helperAllocatedBytes;

    /// <summary>Managed bytes the helper threads allocated while running items (for the allocation tests: the caller's
    /// own allocations are <see cref="GC.GetAllocatedBytesForCurrentThread"/>'s).</summary>
    internal long HelperAllocatedBytes => Interlocked.Read(ref _helperAllocatedBytes);

    /// <summary>Whether the helper threads have been started (by the first run that split its items across threads).</summary>
    internal bool Started => Volatile.Read(ref _threads) is not null;

    /// <summary>How many threads take part in a run (the caller and its helpers).</summary>
    public int Threads => _helpers + 1;

    /// <summary>Workers for <paramref name="threads"/> threads in all (the caller included).</summary>
    public CpuWorkers(int threads) => _helpers = Math.Max(0, threads - 1);

    /// <summary>Runs <paramref name="work"/> on items [0, <paramref name="items"/>) and returns when every item is done.
    /// The first exception thrown by an item is rethrown here (the remaining items are abandoned).</summary>
    public void Run(ParallelWork work, int items) => Run(work, items, onePerThread: false);

    /// <summary>
    /// Runs items [0, <see cref="Threads"/>) of <paramref name="work"/> one per thread: one on the calling thread and one
    /// on each helper: for per-thread preparation, e.g. growing every thread's scratch buffers before a kernel whose
    /// items may land on any thread. Returns false, having run nothing, when that cannot be done now (another caller is
    /// running, the workers are stopped).
    /// </summary>
    public bool RunOnEveryThread(ParallelWork work)
    {
        if (_helpers == 0) { work.Execute(0); return true; }
        if (_stopping || Interlocked.CompareExchange(ref _busy, 1, 0) != 0) return false;
        Run(work, _helpers + 1, onePerThread: true, claimed: true);
        return true;
    }

    private bool _onePerThread;

    private void Run(ParallelWork work, int items, bool onePerThread, bool claimed = false)
    {
        if (items <= 0) return;
        bool inline = Schedule == WorkerSchedule.CallerOnly && !onePerThread;
        if (!claimed && (items == 1 || _helpers == 0 || _stopping || inline || Interlocked.CompareExchange(ref _busy, 1, 0) != 0))
        {
            for (int i = 0; i < items; i++) work.Execute(i);
            return;
        }
        try
        {
            _onePerThread = onePerThread;
            EnsureStarted();
            _work = work;
            _items = items;
            _next = 0;
            _error = null;
            int helpers = Math.Min(_helpers, items - 1);
            Volatile.Write(ref _running, helpers);
            lock (_wakeGate)
            {
                _slots = helpers;
                _generation++;
                Monitor.PulseAll(_wakeGate);
            }
            if (Schedule != WorkerSchedule.HelpersOnly || onePerThread) Drain();
            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0 && spin.Count < SpinsBeforeBlocking) spin.SpinOnce(sleep1Threshold: -1);
            // Block until the last helper checks out. The condition is the counter itself, read under the lock the
            // helper pulses with, so no wake-up is lost and none is stale: a "done" flag reset here could be set again
            // by the previous run's helper, still on its way out after this thread saw _running reach 0 while
            // spinning — and this run would then return while its helper is still computing.
            if (Volatile.Read(ref _running) != 0)
                lock (_doneGate)
                    while (Volatile.Read(ref _running) != 0) Monitor.Wait(_doneGate);
            // Every helper of this run has checked out, so none can touch the fields of the next run.
            _work = null;
            _error?.Throw();
        }
        finally { Volatile.Write(ref _busy, 0); }
    }

    private void Drain()
    {
        var work = _work!;
        int item;
        bool once = _onePerThread;
        while ((item = Interlocked.Increment(ref _next) - 1) < _items)
        {
            try { work.Execute(item); }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _next, _items); // nobody starts another item
            }
            if (once) break;
        }
    }

    private void EnsureStarted()
    {
        if (_threads is not null) return;
        lock (_startLock)
        {
            if (_threads is not null) return;
            var threads = new Thread[_helpers];
            for (int i = 0; i < threads.Length; i++)
            {
                threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Engine CPU worker {i + 1}" };
                threads[i].Start();
            }
            _threads = threads;
        }
    }

    private void WorkerLoop()
    {
        int seen = 0;
        while (true)
        {
            // Wait for a run this worker has not seen that still wants a helper (spin a little first).
            var spin = new SpinWait();
            while (Volatile.Read(ref _generation) == seen && !_stopping && spin.Count < SpinsBeforeBlocking) spin.SpinOnce(sleep1Threshold: -1);
            lock (_wakeGate)
            {
                while (true)
                {
                    if (_stopping) return;
                    if (_generation != seen)
                    {
                        seen = _generation;
                        if (_slots > 0)
                        {
                            _slots--;
                            break;
                        }
                    }
                    Monitor.Wait(_wakeGate);
                }
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            Drain();
            allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            if (allocated != 0) Interlocked.Add(ref _helperAllocatedBytes, allocated);
            if (Interlocked.Decrement(ref _running) == 0)
            {
                OnHelperCheckedOut?.Invoke();
                lock (_doneGate)
                    Monitor.Pulse(_doneGate);
            }
        }
    }

    /// <summary>Stops the workers (they exit when they next look for work); later runs execute on the caller's thread.
    /// Not to be called while a run is in progress.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        lock (_wakeGate)
        {
            _stopping = true;
            Monitor.PulseAll(_wakeGate);
        }
    }
}

/// <summary>Who takes the items of a <see cref="CpuWorkers"/> run (a test seam: it forces the thread assignments that
/// are otherwise left to scheduling, so tests can check that a kernel's behaviour does not depend on them).</summary>
internal enum WorkerSchedule
{
    /// <summary>The caller and the helpers take items as they come.</summary>
    Normal,
    /// <summary>The caller runs every item itself.</summary>
    CallerOnly,
    /// <summary>The caller takes none; the helpers run every item.</summary>
    HelpersOnly,
}
