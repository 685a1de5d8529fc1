namespace Engine.Distributed;

/// <summary>
/// Runs one rank's part of a job so that a failure ends the whole job instead of leaving the other ranks blocked in
/// a collective: the exception's message is written as one line naming the rank, then (when there is more than one
/// rank) MPI_Abort ends every process with the exit code; mpirun reports it and returns it.
/// </summary>
public static class DistributedJob
{
    /// <summary>The exit code of a rank that failed with an exception the caller does not map to another code.</summary>
    public const int FailureExitCode = 1;

    /// <summary>Runs <paramref name="body"/>; on an exception writes "mtl: error: rank r of P: message" to
    /// <paramref name="error"/> and aborts the job with <paramref name="exitCode"/>'s code for it.</summary>
    public static int Run(ICommunicator communicator, TextWriter error, Func<int> body, Func<Exception, int>? exitCode = null)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(body);
        try { return body(); }
        catch (Exception e)
        {
            int code = exitCode?.Invoke(e) ?? FailureExitCode;
            error.WriteLine($"mtl: error: {RankPrefix(communicator)}{e.Message}");
            error.Flush();
            if (communicator.Size > 1) communicator.Abort(code);
            return code;
        }
    }

    /// <summary>"rank r of P: " when there is more than one rank, else empty.</summary>
    public static string RankPrefix(ICommunicator communicator) =>
        communicator.Size > 1 ? $"rank {communicator.Rank} of {communicator.Size}: " : "";
}
