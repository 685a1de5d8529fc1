using CsCheck;
using Engine.Checkpoints;

namespace Engine.Tests.Properties;

/// <summary>
/// Property tests of the safetensors writer and reader (CsCheck; seeded, fixed iterations, one thread): random files —
/// every dtype, shapes of rank 0–3 with zero-sized dimensions, random bytes, unicode names and metadata — round-trip
/// byte for byte; random corruptions (a byte replaced anywhere, the header length changed, the file cut) either parse to a
/// self-consistent file or throw <see cref="SafeTensorsFormatException"/>, never another exception; a cut file and a
/// changed header length are always detected.
/// </summary>
public class SafeTensorsPropertyTests
{
    internal const int RoundTrips = 300, Corruptions = 1000;

    private static readonly Gen<string> Name = Gen.String[Gen.Char["abcxyz0189._-é漢 "], 1, 12]
        .Where(n => n != SafeTensorsFile.MetadataKey);

    private static readonly Gen<SafeTensor> Tensor =
        from dtype in Gen.Enum<SafeTensorDType>()
        from shape in Gen.Int[0, 4].Select(d => (long)d).Array[0, 3]
        let count = shape.Aggregate(1L, (a, d) => a * d)
        from bytes in Gen.Byte.Array[(int)(count * dtype.Size())]
        select new SafeTensor(dtype, shape, bytes);

    private static readonly Gen<SafeTensorsFile> Files =
        from tensors in Gen.Select(Name, Tensor).Array[0, 5]
        from metadata in Gen.Select(Name, Gen.String).Array[0, 3]
        select Build(tensors, metadata);

    private static SafeTensorsFile Build((string, SafeTensor)[] tensors, (string, string)[] metadata)
    {
        var file = new SafeTensorsFile();
        foreach (var (name, tensor) in tensors) if (!file.Contains(name)) file.Add(name, tensor);
        foreach (var (key, value) in metadata) file.Metadata[key] = value;
        return file;
    }

    private static void AssertSame(SafeTensorsFile expected, SafeTensorsFile actual)
    {
        Assert.Equal(expected.Names.Order(StringComparer.Ordinal), actual.Names.Order(StringComparer.Ordinal));
        foreach (var name in expected.Names)
        {
            Assert.Equal(expected[name].DType, actual[name].DType);
            Assert.Equal(expected[name].Shape, actual[name].Shape);
            Assert.True(expected[name].Bytes.SequenceEqual(actual[name].Bytes), name);
        }
        Assert.Equal(expected.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal), actual.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Random_files_round_trip_byte_for_byte()
    {
        Files.Sample(file =>
        {
            var bytes = file.ToBytes();
            var read = SafeTensorsFile.Parse(bytes);
            AssertSame(file, read);
            Assert.Equal(bytes, read.ToBytes()); // and the writer is deterministic
        }, seed: "0N0XIzNsQ0O4", iter: RoundTrips, threads: 1);
    }

    internal enum Damage { Replace, HeaderLength, Cut }

    [Fact]
    public void Random_corruptions_parse_consistently_or_throw_a_format_exception()
    {
        var corrupted =
            from file in Files
            from damage in Gen.Enum<Damage>()
            from position in Gen.Double[0, 1]
            from value in Gen.Byte
            from delta in Gen.Int[1, 300]
            select (file, damage, position, value, delta);
        corrupted.Sample((file, damage, position, value, delta) =>
        {
            var original = file.ToBytes();
            var bytes = (byte[])original.Clone();
            int at = Math.Min(bytes.Length - 1, (int)(position * bytes.Length));
            switch (damage)
            {
                case Damage.Replace: bytes[at] = bytes[at] == value ? (byte)(value ^ 0x5A) : value; break;
                case Damage.HeaderLength:
                    long n = BitConverter.ToInt64(bytes, 0);
                    BitConverter.GetBytes(n + (position < 0.5 ? -delta : delta)).CopyTo(bytes, 0);
                    break;
                case Damage.Cut: bytes = bytes[..Math.Max(0, at)]; break;
            }
            SafeTensorsFile parsed;
            try { parsed = SafeTensorsFile.Parse(bytes, "corrupt.safetensors"); }
            catch (SafeTensorsFormatException e)
            {
                Assert.Contains("corrupt.safetensors", e.Message);
                return;
            }
            Assert.True(damage == Damage.Replace, $"a {damage} must be detected");
            // Parsed: every tensor's bytes fit its dtype and shape, and writing it again reads back the same.
            foreach (var name in parsed.Names)
                Assert.Equal(parsed[name].ElementCount * parsed[name].DType.Size(), parsed[name].Bytes.Length);
            AssertSame(parsed, SafeTensorsFile.Parse(parsed.ToBytes()));
            // A replaced byte that parses was in the tensor data, or the header still means the same (e.g. a space
            // of the padding changed to another space-like byte the JSON reader skips), or changed a name/value only.
            long headerLength = BitConverter.ToInt64(original, 0);
            if (at >= 8 + headerLength)
                Assert.Equal(file.Names.Order(StringComparer.Ordinal), parsed.Names.Order(StringComparer.Ordinal));
        }, seed: "0N0XIzNsQ0O5", iter: Corruptions, threads: 1);
    }
}
