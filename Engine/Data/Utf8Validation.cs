using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Engine.Data;

/// <summary>
/// A CSV file read without a text encoding given must be valid UTF-8: decoding invalid bytes to U+FFFD would silently
/// merge distinct values ("café" and "cafè" written in Latin-1 both read as "caf\uFFFD", one class). The first invalid
/// byte sequence is reported with its line and column (the field it is in, counted outside quotes, named by the header).
/// </summary>
internal static class Utf8Validation
{
    private const int ChunkBytes = 1 << 20;

    /// <summary>Throws <see cref="DataFileException"/> unless the file is valid UTF-8 (a BOM is fine). Reads it in 1 MiB chunks.</summary>
    public static void Check(string path, char? delimiter)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        Check(stream, path, delimiter);
    }

    /// <summary>As <see cref="Check(string, char?)"/>, on a seekable stream from its current position (restored afterwards);
    /// <paramref name="source"/> names it in the message.</summary>
    public static void Check(Stream stream, string source, char? delimiter)
    {
        long start = stream.Position;
        long offset = FirstInvalid(stream);
        if (offset < 0) { stream.Position = start; return; }
        stream.Position = start + offset;
        int bad = stream.ReadByte();
        stream.Position = start;
        var (line, field, header) = Locate(stream, offset, delimiter);
        string? column = field < header.Count ? header[field] : $"#{field + 1}";
        throw new DataFileException(source, line, column,
            $"byte 0x{bad:X2} at offset {offset} is not valid UTF-8. The file is in another encoding " +
            "(e.g. Latin-1 or Windows-1252): give it, e.g. --encoding latin1, or convert the file to UTF-8.");
    }

    /// <summary>The offset of the first byte of the first invalid UTF-8 sequence, or −1.</summary>
    internal static long FirstInvalid(Stream stream)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes + 4);
        var chars = ArrayPool<char>.Shared.Rent(ChunkBytes + 4);
        try
        {
            long consumed = 0; // file offset of buffer[0]
            int carried = 0;
            while (true)
            {
                int read = stream.Read(buffer, carried, ChunkBytes);
                int available = carried + read;
                bool last = read == 0;
                var span = buffer.AsSpan(0, available);
                while (true)
                {
                    var status = Utf8.ToUtf16(span, chars, out int bytesRead, out _, replaceInvalidSequences: false, isFinalBlock: last);
                    if (status == OperationStatus.InvalidData) return consumed + (available - span.Length) + bytesRead;
                    span = span[bytesRead..];
                    if (status != OperationStatus.DestinationTooSmall) break;
                }
                if (last) return -1;
                // NeedMoreData: keep the incomplete sequence for the next chunk.
                span.CopyTo(buffer);
                consumed += available - span.Length;
                carried = span.Length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>The 1-based line of <paramref name="offset"/>, the 0-based field of its record (separators and line breaks
    /// counted outside double quotes), and the header's names. The separator, unless given, is the one of , ; tab | that
    /// the header line holds most of (as the reader detects it).</summary>
    private static (long Line, int Field, List<string> Header) Locate(Stream source, long offset, char? delimiter)
    {
        var stream = new BufferedStream(source, 1 << 16);   // not disposed: that would close the caller's stream
        long line = 1;
        int field = 0;
        bool quoted = false, inHeader = true;
        var headerBytes = new List<byte>();
        for (long i = 0; i < offset; i++)
        {
            int b = stream.ReadByte();
            if (inHeader) headerBytes.Add((byte)b);
            if (b == '"') quoted = !quoted;
            else if (b == '\n')
            {
                line++;
                if (!quoted) { field = 0; inHeader = false; }
            }
            else if (!quoted && b == (delimiter ?? Detect(headerBytes))) field++;
        }
        if (inHeader) return (line, field, []);
        var headerText = Encoding.UTF8.GetString([.. headerBytes]);
        char separator = delimiter ?? Detect(headerBytes);
        var names = headerText.TrimEnd('\r', '\n').Split(separator).Select(n => n.Trim().Trim('"')).ToList();
        return (line, field, names);
    }

    private static char Detect(List<byte> header) =>
        new[] { ',', ';', '\t', '|' }.MaxBy(c => header.Count(b => b == c));
}
