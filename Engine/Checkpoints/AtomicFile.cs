namespace Engine.Checkpoints;

/// <summary>
/// Replaces a file all at once: either the complete new content is at <c>path</c>, or the old file is
/// untouched. The content is written to a temporary file <c>.NAME.GUID.tmp</c> in the same directory (same file
/// system, so the final rename is atomic), flushed to the disk (<c>fsync</c> via <see cref="FileStream.Flush(bool)"/>),
/// and renamed over <c>path</c> (<c>rename(2)</c> on Unix, <c>MoveFileEx(REPLACE_EXISTING)</c> on Windows). If anything
/// fails before the rename, the temporary file is deleted and an <see cref="IOException"/> naming <c>path</c> (not the
/// temporary file) propagates. A crash mid-write leaves at worst a stray temporary file beside the old one, never a
/// broken file at <c>path</c>; the next write to that path deletes such leftovers.
/// <para>A path that is a symbolic link is written through: the link's target is replaced and the link kept.</para>
/// </summary>
/// <remarks>The directory entry itself is not fsynced (.NET has no portable API for it): after a power
/// loss right after the rename, the file system may still show the old file — but never a torn one.
/// A leftover is only deleted when no process holds it open (the writer holds it with <see cref="FileShare.None"/>,
/// an advisory lock on Unix), so a concurrent save of the same path by another process is not disturbed while it writes.</remarks>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>, which gets the temporary file's stream.</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="IOException">The target is unusable (see <see cref="CheckTarget"/>) or the write failed; the message names <paramref name="path"/>.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var target = CheckTarget(path);
        var directory = Path.GetDirectoryName(target)!;
        DeleteLeftovers(target);
        var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
                // Unix renames an open file; renaming before the handle (and its lock) is released means no other
                // process's leftover clean-up can take the finished temporary file away. Windows cannot rename it open.
                if (!OperatingSystem.IsWindows()) File.Move(temp, target, overwrite: true);
            }
            if (OperatingSystem.IsWindows()) File.Move(temp, target, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new IOException($"{path}: could not be written ({e.Message.Replace(temp, target)}); the file there, if any, is unchanged.", e);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) => Write(path, s => s.Write(bytes.Span));

    /// <summary>
    /// Checks, before any work is done, that <paramref name="path"/> can be written: not empty, not a directory, its
    /// directory exists and is a directory, and, with <paramref name="probe"/>, that a file can be created there (a probe
    /// file is created and deleted).
    /// Returns the canonical target (links resolved). Messages name <paramref name="path"/> as given.
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty or only white space.</exception>
    /// <exception cref="IOException">The target cannot be written (<see cref="DirectoryNotFoundException"/> when its directory is missing).</exception>
    public static string CheckTarget(string path, bool probe = false)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("The output path is empty.", nameof(path));
        string target;
        try { target = FilePaths.Canonical(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new IOException($"{path}: not a usable file path ({e.Message})", e);
        }
        if (Directory.Exists(target)) throw new IOException($"{path}: is a directory; give a file name.");
        if (path.EndsWith(Path.DirectorySeparatorChar) || path.EndsWith(Path.AltDirectorySeparatorChar))
            throw new IOException($"{path}: ends with a path separator; give a file name.");
        var directory = Path.GetDirectoryName(target) ?? throw new IOException($"{path}: has no directory.");
        if (!Directory.Exists(directory))
        {
            for (var d = directory; d is not null; d = Path.GetDirectoryName(d))
                if (File.Exists(d)) throw new IOException($"{path}: '{d}' is a file, not a directory.");
            throw new DirectoryNotFoundException($"{path}: the directory '{directory}' does not exist.");
        }
        if (probe)
        {
            var temp = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
            try { new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose).Dispose(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TryDelete(temp);
                throw new IOException($"{path}: cannot create a file in '{directory}' ({e.GetType().Name}).", e);
            }
        }
        return target;
    }

    /// <summary>Deletes the temporary files an interrupted earlier write to <paramref name="target"/> left behind
    /// (<c>.NAME.*.tmp</c>), unless another process holds one open (it is still writing).</summary>
    private static void DeleteLeftovers(string target)
    {
        string[] leftovers;
        try { leftovers = Directory.GetFiles(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.*.tmp"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return; }
        foreach (var leftover in leftovers)
        {
            try { new FileStream(leftover, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose).Dispose(); }
            catch (IOException) { /* in use by a writer, or gone already */ }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { /* best effort: the original exception matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
