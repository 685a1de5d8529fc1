using Engine.Checkpoints;

namespace Engine.Cli;

/// <summary>
/// The files one command reads and writes, checked before any work is done (exit code 2, nothing written):
/// no output may be a file the command reads, no two outputs may be one file (paths compared canonically, symbolic
/// links resolved: <see cref="FilePaths"/>), and every output must be writable — not empty, not a directory, in a
/// directory that exists (<see cref="AtomicFile.CheckTarget"/>). Messages name the flags and the paths as the user typed them.
/// </summary>
internal sealed class CommandFiles
{
    private readonly List<(string Flag, string Path)> _inputs = [], _outputs = [];

    /// <summary>A file the command reads (ignored when null).</summary>
    public CommandFiles Reads(string flag, string? path)
    {
        if (path is not null) _inputs.Add((flag, path));
        return this;
    }

    /// <summary>The path that means standard output (<c>--report -</c>), not a file.</summary>
    public const string StandardOutput = "-";

    /// <summary>A file the command writes (ignored when null or <see cref="StandardOutput"/>).</summary>
    public CommandFiles Writes(string flag, string? path)
    {
        if (path is not null && path != StandardOutput) _outputs.Add((flag, path));
        return this;
    }

    /// <summary>Throws <see cref="UsageException"/> unless every output is writable and distinct from the inputs and from each other.</summary>
    public void Check()
    {
        var written = new Dictionary<string, (string Flag, string Path)>(FilePaths.Comparer);
        foreach (var (flag, path) in _outputs)
        {
            string target;
            try { target = AtomicFile.CheckTarget(path, probe: true); }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
                throw new UsageException($"{flag} {Quote(path)}: {Reason(e, path)}");
            }
            if (written.TryGetValue(target, out var other))
                throw new UsageException($"{other.Flag} {Quote(other.Path)} and {flag} {Quote(path)} are the same file: the second would replace the first. Give them different paths.");
            written[target] = (flag, path);
        }
        foreach (var (flag, path) in _inputs)
        {
            string source;
            try { source = FilePaths.Canonical(path); }
            catch (IOException) { continue; } // a link loop: the read reports it
            if (written.TryGetValue(source, out var output))
                throw new UsageException($"{output.Flag} {Quote(output.Path)} is the file {flag} {Quote(path)} reads: writing it would destroy the input. Give another path.");
        }
    }

    private static string Quote(string path) => path.Length == 0 || path.Any(char.IsWhiteSpace) ? $"'{path}'" : path;

    /// <summary>The exception's message without the leading "path: " (the caller names the path once).</summary>
    private static string Reason(Exception e, string path) =>
        e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
}
