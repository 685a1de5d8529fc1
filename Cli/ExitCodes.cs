namespace Engine.Cli;

/// <summary>
/// The exit codes of <c>mtl</c> (documented in docs/cli.md). Every non-zero exit ends standard error with exactly
/// one line, <c>mtl: error: …</c>, and no stack trace (set MTL_DEBUG=1 to get one).
/// </summary>
public static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>Bad input: a data file (missing, empty, malformed, missing value, non-numeric text, unknown
    /// column, a class label or category unseen in training) or a model file (missing, truncated, not a
    /// model of this program), or a column/task named on the command line that the data lacks.</summary>
    public const int BadInput = 1;

    /// <summary>Usage: unknown command or flag, a flag value that does not parse or is out of range.</summary>
    public const int Usage = 2;

    /// <summary>The requested device (cuda, opencl) is not available on this machine.</summary>
    public const int DeviceUnavailable = 3;

    /// <summary>Training diverged (a loss or gradient became NaN/∞).</summary>
    public const int TrainingFailed = 4;

    /// <summary>An unexpected internal error (a bug): the message says what, MTL_DEBUG=1 shows the stack.</summary>
    public const int InternalError = 70;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}

/// <summary>A flag value that is malformed or out of range: exit code <see cref="ExitCodes.Usage"/>.</summary>
public sealed class UsageException(string message) : Exception(message);
