using Engine.Kernels;

namespace Engine.Distributed;

/// <summary>One rank: every collective is the identity (a sum over one rank), so the data-parallel code path runs
/// unchanged in one process (and the tests can compare it against the plain step).</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The one instance (it holds nothing).</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    /// <inheritdoc/>
    public int Rank => 0;

    /// <inheritdoc/>
    public int Size => 1;

    /// <inheritdoc/>
    public string Description => "single process";

    /// <inheritdoc/>
    public void AllReduceSum(View<float> buffer) { }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) { }

    /// <inheritdoc/>
    public void Broadcast(View<float> buffer, int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "A single process has only rank 0.");
    }

    /// <inheritdoc/>
    public void Barrier() { }

    /// <inheritdoc/>
    public bool AllAgree(long value) => true;

    /// <inheritdoc/>
    public void Abort(int exitCode) { }

    /// <summary>Nothing to free.</summary>
    public void Dispose() { }
}
