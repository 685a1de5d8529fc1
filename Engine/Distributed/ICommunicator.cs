using Engine.Kernels;

namespace Engine.Distributed;

/// <summary>
/// The collective operations data-parallel training needs, over a fixed group of <see cref="Size"/> processes
/// (ranks 0 … Size − 1). Every rank must call the same collectives in the same order with the same lengths;
/// a collective returns on a rank once every rank has joined it. Implementations: <see cref="SingleProcessCommunicator"/>
/// (one rank, every call a no-op), <see cref="MpiCommunicator"/> (Open MPI, P/Invoke over libmpi.so) and
/// <see cref="NcclCommunicator"/> (NCCL over CUDA device buffers; compiled, not run in this repository: docs/scale-out.md).
/// Maths of the data-parallel step: docs/maths.md §20.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>What carries the messages, for logs (e.g. "single process", "Open MPI 4.1.4").</summary>
    string Description { get; }

    /// <summary>In place: every element of <paramref name="buffer"/> becomes the sum over ranks of that element.
    /// The buffer lives on the training backend's device (an implementation that needs host memory stages it and says so).</summary>
    void AllReduceSum(View<float> buffer);

    /// <summary>In place on host memory (small: metric sums, row counts): every element becomes the sum over ranks.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>In place: every rank's <paramref name="buffer"/> becomes rank <paramref name="root"/>'s.</summary>
    void Broadcast(View<float> buffer, int root);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>The cheap consistency check: true on every rank when every rank passed the same <paramref name="value"/>
    /// (one all-reduce of two 64-bit integers: max of v and of ¬v, so min = ¬max(¬v)).</summary>
    bool AllAgree(long value);

    /// <summary>Ends every rank of the job with <paramref name="exitCode"/> (MPI_Abort); does not return when Size &gt; 1.</summary>
    void Abort(int exitCode);
}
