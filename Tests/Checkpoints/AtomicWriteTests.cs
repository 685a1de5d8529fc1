using Engine.Checkpoints;
using Engine.Tests.Data;

namespace Engine.Tests.Checkpoints;

/// <summary>Atomic replacement: a failed write leaves the old file byte for byte and no temporary file.</summary>
public class AtomicWriteTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A stream that fails once more than <c>limit</c> bytes have been written through it.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        private long _written;
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_written + buffer.Length > limit)
            {
                inner.Write(buffer[..(int)(limit - _written)]); // part of the data reaches the disk, then the "crash"
                throw new IOException("simulated disk failure mid-write");
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static SafeTensorsFile Model(float value)
    {
        var file = new SafeTensorsFile();
        file.Add("trunk.0.weight", SafeTensor.FromFloat32(Enumerable.Repeat(value, 64).ToArray(), 8, 8));
        file.Metadata["engine.config"] = "{}";
        return file;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(100)]
    [InlineData(200)]
    public void Failure_mid_save_leaves_the_old_checkpoint_intact_and_no_temp_file(long failAfterBytes)
    {
        var path = _dir.File_("model.safetensors");
        Model(1f).Save(path);
        var before = File.ReadAllBytes(path);

        var error = Assert.Throws<IOException>(() => Model(2f).Save(path, s => new FailingStream(s, failAfterBytes)));
        Assert.Contains("simulated", error.Message);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
        Assert.Equal(1f, SafeTensorsFile.Load(path)["trunk.0.weight"].ToFloat32()[63]);
    }

    [Fact]
    public void Failure_on_a_new_path_leaves_nothing()
    {
        var path = _dir.File_("new.bin");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new InvalidOperationException("writer failed");
        }));
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Success_replaces_the_file_and_leaves_no_temp_file()
    {
        var path = _dir.File_("model.safetensors");
        Model(1f).Save(path);
        Model(3f).Save(path);
        Assert.Equal([path], Directory.GetFiles(_dir.Path));
        Assert.Equal(3f, SafeTensorsFile.Load(path)["trunk.0.weight"].ToFloat32()[0]);
        Assert.Equal(Model(3f).ToBytes(), File.ReadAllBytes(path));
    }

    [Fact]
    public void Missing_directory_fails_without_side_effects()
    {
        var path = Path.Combine(_dir.Path, "no-such-dir", "m.safetensors");
        Assert.ThrowsAny<IOException>(() => Model(1f).Save(path));
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }
}
