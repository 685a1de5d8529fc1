namespace Engine.Checkpoints;

/// <summary>
/// Replaces a file all at once: either the complete new content is at <c>path</c>, or the old file is
/// untouched. The content is written to a temporary file in the same directory (same file system, so the
/// final rename is atomic), flushed to the disk (<c>fsync</c> via <see cref="FileStream.Flush(bool)"/>),
/// and renamed over <c>path</c> (<c>rename(2)</c> on Unix, <c>MoveFileEx(REPLACE_EXISTING)</c> on Windows). If anything fails before the
/// rename, the temporary file is deleted and the exception propagates. A crash mid-write leaves at worst a
/// stray <c>.*.tmp</c> file beside the old one, never a broken file at <c>path</c>.
/// </summary>
/// <remarks>The directory entry itself is not fsynced (.NET has no portable API for it): after a power
/// loss right after the rename, the file system may still show the old file — but never a torn one.</remarks>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>, which gets the temporary file's stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{path} has no directory.", nameof(path));
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlyMemory<byte> bytes) => Write(path, s => s.Write(bytes.Span));

    private static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { /* best effort: the original exception matters more */ }
        catch (UnauthorizedAccessException) { }
    }
}
