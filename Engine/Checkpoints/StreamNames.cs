namespace Engine.Checkpoints;

/// <summary>What a stream is called in messages: a file stream by its path, any other by its type
/// (<c>&lt;MemoryStream&gt;</c>), unless the caller names it.</summary>
internal static class StreamNames
{
    public static string Of(Stream stream, string? source = null) =>
        source ?? (stream is FileStream file ? file.Name : $"<{stream.GetType().Name}>");

    /// <summary>The rest of <paramref name="stream"/> in memory (a MemoryStream's own buffer is copied too, so that a later
    /// write to it cannot change what was read).</summary>
    public static byte[] ReadToEnd(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead) throw new ArgumentException($"{Of(stream)} cannot be read.", nameof(stream));
        using var copy = stream.CanSeek ? new MemoryStream(checked((int)Math.Max(0, stream.Length - stream.Position))) : new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
