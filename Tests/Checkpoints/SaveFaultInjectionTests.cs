using Engine.Checkpoints;
using Engine.Tests.Data;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// Fault injection into saving: the stream the writer gets throws at its N-th call (Write or Flush), for every N
/// from 1 until a save completes. After each failure the target holds exactly the old file, and no temporary file is
/// left; the save that completes leaves exactly the new bytes. Plus the target checks, leftover clean-up and
/// writing through symbolic links of <see cref="AtomicFile"/>.
/// </summary>
public class SaveFaultInjectionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Passes calls through until the <c>failAt</c>-th (1-based) Write or Flush, which throws.</summary>
    private sealed class ThrowingStream(Stream inner, int failAt) : Stream
    {
        public int Calls { get; private set; }

        private void Count()
        {
            if (++Calls == failAt) throw new IOException($"injected failure at call {failAt}");
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Count();
            inner.Write(buffer);
        }
        public override void WriteByte(byte value) => Write([value]);
        public override void Flush()
        {
            Count();
            inner.Flush();
        }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static SafeTensorsFile File_(float value, int tensors)
    {
        var file = new SafeTensorsFile();
        for (int t = 0; t < tensors; t++)
            file.Add($"trunk.{t}.weight", SafeTensor.FromFloat32(Enumerable.Range(0, 12).Select(i => value + i + t).ToArray(), 3, 4));
        file.Metadata["engine.config"] = "{}";
        return file;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_write_failing_at_every_call_leaves_the_old_file_or_nothing(bool existing)
    {
        var path = _dir.File_("model.safetensors");
        byte[]? old = null;
        if (existing)
        {
            File_(1f, 3).Save(path);
            old = File.ReadAllBytes(path);
        }
        var next = File_(2f, 3);
        var expected = next.ToBytes();
        int failures = 0;
        for (int n = 1; ; n++)
        {
            ThrowingStream? stream = null;
            try
            {
                next.Save(path, s => stream = new ThrowingStream(s, n));
            }
            catch (IOException e)
            {
                failures++;
                Assert.Contains($"injected failure at call {n}", e.ToString());
                Assert.Contains(path, e.Message);                 // the user's path ...
                Assert.DoesNotContain(".tmp", e.Message);         // ... not the temporary file
                if (old is null) Assert.False(File.Exists(path));
                else Assert.Equal(old, File.ReadAllBytes(path));
                Assert.Equal(existing ? [path] : [], Directory.GetFiles(_dir.Path));
                continue;
            }
            // No failure: call n was never reached, so the save ran to the end.
            Assert.True(stream!.Calls < n);
            Assert.Equal(expected, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(_dir.Path));
            break;
        }
        // 8-byte length, header, three tensors, a flush: every one of those calls was failed once.
        Assert.Equal(6, failures);
    }

    [Fact]
    public void A_save_deletes_the_temporary_files_an_interrupted_save_left()
    {
        var path = _dir.File_("m.safetensors");
        var leftover = _dir.Write(".m.safetensors.0123456789abcdef0123456789abcdef.tmp", "half a file");
        var unrelated = _dir.Write(".other.safetensors.0123.tmp", "not ours");
        File_(1f, 1).Save(path);
        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(unrelated));
        Assert.Equal(File_(1f, 1).ToBytes(), File.ReadAllBytes(path));
    }

    [Fact]
    public void A_leftover_held_open_by_a_writer_is_not_deleted()
    {
        var path = _dir.File_("m.safetensors");
        var busy = _dir.File_(".m.safetensors.fedcba9876543210fedcba9876543210.tmp");
        using (new FileStream(busy, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            File_(1f, 1).Save(path);
            Assert.True(File.Exists(busy));
        }
    }

    [Fact]
    public void Saving_through_a_symbolic_link_replaces_the_target_and_keeps_the_link()
    {
        var target = _dir.File_("real.safetensors");
        File_(1f, 1).Save(target);
        var link = _dir.File_("link.safetensors");
        File.CreateSymbolicLink(link, target);
        File_(5f, 1).Save(link);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal(File_(5f, 1).ToBytes(), File.ReadAllBytes(target));
    }

    [Fact]
    public void Unusable_targets_are_refused_with_the_given_path()
    {
        var file = _dir.Write("plain.txt", "x");
        Directory.CreateDirectory(_dir.File_("folder"));
        var cases = new (string Path, string Fragment)[]
        {
            (Path.Combine(_dir.Path, "missing", "m.safetensors"), "does not exist"),
            (Path.Combine(file, "m.safetensors"), "is a file, not a directory"),
            (_dir.File_("folder"), "is a directory"),
            (_dir.File_("folder") + Path.DirectorySeparatorChar, "is a directory"),
        };
        foreach (var (path, fragment) in cases)
        {
            var e = Assert.ThrowsAny<IOException>(() => File_(1f, 1).Save(path));
            Assert.StartsWith(path + ":", e.Message);
            Assert.Contains(fragment, e.Message);
        }
        Assert.Throws<ArgumentException>(() => AtomicFile.CheckTarget(""));
        Assert.Throws<ArgumentException>(() => AtomicFile.CheckTarget("  "));
        Assert.Equal([file], Directory.GetFiles(_dir.Path)); // nothing was created anywhere
    }

    [Fact]
    public void Canonical_paths_resolve_dot_segments_and_links_of_directories_and_files()
    {
        var real = Directory.CreateDirectory(_dir.File_("real")).FullName;
        var data = Path.Combine(real, "d.csv");
        File.WriteAllText(data, "a\n1\n");
        Directory.CreateSymbolicLink(_dir.File_("alias"), real);
        File.CreateSymbolicLink(_dir.File_("d-link.csv"), Path.Combine("alias", "d.csv")); // relative, through the directory link
        var canonical = FilePaths.Canonical(data);
        Assert.Equal(canonical, FilePaths.Canonical(Path.Combine(_dir.Path, "alias", "d.csv")));
        Assert.Equal(canonical, FilePaths.Canonical(Path.Combine(_dir.Path, "real", "..", "d-link.csv")));
        Assert.Equal(canonical, FilePaths.Canonical(Path.Combine(_dir.Path, "real", ".", "d.csv")));
        Assert.NotEqual(canonical, FilePaths.Canonical(Path.Combine(_dir.Path, "real", "e.csv")));
        // Not yet existing components stay as written.
        Assert.Equal(Path.Combine(FilePaths.Canonical(_dir.Path), "real", "new", "x.csv"), FilePaths.Canonical(Path.Combine(_dir.Path, "alias", "new", "x.csv")));
        File.CreateSymbolicLink(_dir.File_("loop1"), _dir.File_("loop2"));
        File.CreateSymbolicLink(_dir.File_("loop2"), _dir.File_("loop1"));
        Assert.Contains("symbolic links", Assert.ThrowsAny<IOException>(() => FilePaths.Canonical(_dir.File_("loop1"))).Message);
    }
}
