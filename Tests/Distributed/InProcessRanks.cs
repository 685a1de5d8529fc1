using Engine.Distributed;
using Engine.Kernels;

namespace Engine.Tests.Distributed;

/// <summary>
/// R ranks of one data-parallel job inside the test process, for tests of a step, an evaluation or a whole training run
/// (<see cref="WeightedDistributedStepTests"/>, <see cref="WeightedDistributedEvaluationTests"/>,
/// <see cref="DistributedGraphTests"/>). Each rank runs on its own thread with its own <see cref="ICommunicator"/>,
/// and the ranks <b>take turns</b>: all rank code runs under one monitor, and a rank gives it up only while it waits in
/// a collective. So exactly one rank computes at a time and the ranks may share one backend (the tests' shared
/// <see cref="Infrastructure.TestDevices"/> ones), as the suite runs its tests one after another.
/// <para>The all-reduce adds the ranks' float32 contributions in rank order (0, 1, …) — the same sum on every rank, so the
/// ranks stay bit-identical, as under MPI. A rank that throws ends the job: the others leave their collective with an
/// exception instead of waiting forever, and <see cref="Run{T}"/> rethrows the first failure.</para>
/// </summary>
internal sealed class InProcessRanks
{
    private readonly object _gate = new();
    private readonly int _size;
    private readonly object?[] _slots;        // each rank's contribution to the collective under way
    private readonly TimeSpan _timeout;
    private int _arrived;
    private long _generation;                 // collectives completed
    private object? _result;                  // the last completed collective's result (read by every rank before the next completes)
    private Exception? _failure;

    private InProcessRanks(int size, TimeSpan timeout)
    {
        _size = size;
        _slots = new object?[size];
        _timeout = timeout;
    }

    /// <summary>Runs <paramref name="body"/> as each of <paramref name="ranks"/> ranks and returns what each returned, by rank.</summary>
    public static T[] Run<T>(int ranks, Func<ICommunicator, T> body, int timeoutSeconds = 600)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        var job = new InProcessRanks(ranks, TimeSpan.FromSeconds(timeoutSeconds));
        var results = new T[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                lock (job._gate)
                {
                    try { results[rank] = body(new RankCommunicator(job, rank)); }
                    catch (Exception e)
                    {
                        job._failure ??= new InvalidOperationException($"rank {rank} of {ranks}: {e.Message}", e);
                        Monitor.PulseAll(job._gate);
                    }
                }
            }, maxStackSize: 16 << 20) { IsBackground = true, Name = $"rank {rank}" };
        }
        foreach (var t in threads) t.Start();
        foreach (var t in threads)
            if (!t.Join(job._timeout + TimeSpan.FromSeconds(5))) throw new TimeoutException($"An in-process rank did not finish in {timeoutSeconds} s.");
        if (job._failure is not null) throw job._failure;
        return results;
    }

    /// <summary>Rank <paramref name="rank"/> joins the collective under way with <paramref name="contribution"/>; the last
    /// to join computes <paramref name="combine"/> over every rank's contribution (in rank order). Returns the result.</summary>
    private TResult Collective<TSlot, TResult>(int rank, TSlot contribution, Func<TSlot[], TResult> combine)
    {
        ThrowIfFailed();
        _slots[rank] = contribution;
        long generation = _generation;
        if (++_arrived == _size)
        {
            _result = combine([.. _slots.Cast<TSlot>()]);
            _arrived = 0;
            _generation++;
            Monitor.PulseAll(_gate);
        }
        else
        {
            while (_generation == generation)
            {
                ThrowIfFailed();
                if (!Monitor.Wait(_gate, _timeout)) throw new TimeoutException($"rank {rank}: the other ranks did not join the collective.");
            }
        }
        return (TResult)_result!;
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null) throw new CommunicatorException("another in-process rank failed: " + _failure.Message);
    }

    private static float[] SumInRankOrder(float[][] parts)
    {
        var sum = (float[])parts[0].Clone();
        for (int r = 1; r < parts.Length; r++)
            for (int i = 0; i < sum.Length; i++) sum[i] += parts[r][i];
        return sum;
    }

    private sealed class RankCommunicator(InProcessRanks job, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => job._size;
        public string Description => $"in-process ranks ({job._size})";

        public void AllReduceSum(View<float> buffer)
        {
            var backend = buffer.Buffer!.Owner;
            var sum = job.Collective(rank, backend.ToArray(buffer), parts =>
            {
                if (parts.Any(p => p.Length != parts[0].Length))
                    throw new CommunicatorException($"all-reduce of unequal lengths: {string.Join(", ", parts.Select(p => p.Length))}.");
                return SumInRankOrder(parts);
            });
            backend.Upload<float>(sum, buffer);
        }

        public void AllReduceSum(Span<double> values)
        {
            var sum = job.Collective(rank, values.ToArray(), parts =>
            {
                var s = (double[])parts[0].Clone();
                for (int r = 1; r < parts.Length; r++)
                    for (int i = 0; i < s.Length; i++) s[i] += parts[r][i];
                return s;
            });
            sum.CopyTo(values);
        }

        public void Broadcast(View<float> buffer, int root)
        {
            var backend = buffer.Buffer!.Owner;
            var values = job.Collective(rank, backend.ToArray(buffer), parts => parts[root]);
            backend.Upload<float>(values, buffer);
        }

        public void Barrier() => job.Collective(rank, 0, _ => 0);

        public bool AllAgree(long value) => job.Collective(rank, value, parts => parts.All(v => v == parts[0]));

        public void Abort(int exitCode) => throw new CommunicatorException($"rank {rank} aborted the job with exit code {exitCode}.");

        public void Dispose() { }
    }
}
