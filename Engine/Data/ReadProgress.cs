namespace Engine.Data;

/// <summary>How far a CSV read has got: <see cref="BytesRead"/> of <see cref="TotalBytes"/> of <see cref="Source"/> parsed.
/// Reported by <see cref="CsvTable.Load(Stream, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, string?, IProgress{ReadProgress}?, MissingInputs)"/>
/// as the parser reads (the UTF-8 check before it, a fast pass, is not counted).</summary>
public readonly record struct ReadProgress(string Source, long BytesRead, long TotalBytes)
{
    /// <summary>BytesRead / TotalBytes, in [0, 1].</summary>
    public double Fraction => TotalBytes <= 0 ? 1 : Math.Clamp((double)BytesRead / TotalBytes, 0, 1);
}

/// <summary>A read-only view of a seekable stream that reports its position to an <see cref="IProgress{T}"/> after each read.
/// It does not own the inner stream.</summary>
internal sealed class ProgressStream(Stream inner, string source, IProgress<ReadProgress> progress) : Stream
{
    private readonly long _start = inner.Position, _total = inner.Length - inner.Position;

    public override int Read(byte[] buffer, int offset, int count) => Reported(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Reported(inner.Read(buffer));

    private int Reported(int read)
    {
        progress.Report(new ReadProgress(source, inner.Position - _start, _total));
        return read;
    }

    public override bool CanRead => true;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => inner.Position = value; }
    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
