using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.Checkpoints;

namespace Engine.Tests.Checkpoints;

/// <summary>The safetensors reader and writer: exact round trips, the byte layout of the format, and
/// rejection of truncated or corrupted files with messages naming the file and tensor.</summary>
public class SafeTensorsTests
{
    /// <summary>A raw file from a header JSON string and data bytes (no padding: the reader must not need it).</summary>
    private static byte[] Raw(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        data.CopyTo(file, 8 + h.Length);
        return file;
    }

    private static SafeTensorsFormatException Rejects(byte[] file, string fragment)
    {
        var error = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Parse(file, "model.safetensors"));
        Assert.StartsWith("model.safetensors: ", error.Message);
        Assert.Contains(fragment, error.Message);
        return error;
    }

    private static SafeTensorsFile Sample()
    {
        var file = new SafeTensorsFile();
        float[] special = [1.5f, -0f, float.Epsilon, float.MaxValue, float.NegativeInfinity,
            BitConverter.Int32BitsToSingle(0x7FC00123), 1e-40f, (float)Math.PI];
        file.Add("trunk.0.weight", SafeTensor.FromFloat32(special, 2, 4));
        file.Add("trunk.0.bias", SafeTensor.FromFloat32([0.25f, -7f]));
        file.Add("extra.f64", SafeTensor.FromFloat64([Math.E, -0.0, double.Epsilon, 1.0 / 3], 2, 2));
        file.Add("optimizer.step", SafeTensor.ScalarInt64(long.MinValue + 1));
        file.Add("counts", SafeTensor.FromInt32([int.MaxValue, -1, 0], 3));
        file.Add("empty", SafeTensor.FromFloat32([], 0, 3));
        file.Metadata["engine.config"] = "{\"layers\":[8,16]}";
        file.Metadata["note"] = "quotes \" backslash \\ newline \n unicode λ≥0";
        return file;
    }

    [Fact]
    public void Round_trip_is_bit_exact_with_names_order_shapes_and_metadata()
    {
        var original = Sample();
        var back = SafeTensorsFile.Parse(original.ToBytes());
        Assert.Equal(original.Names, back.Names);
        foreach (var name in original.Names)
        {
            Assert.Equal(original[name].DType, back[name].DType);
            Assert.Equal(original[name].Shape, back[name].Shape);
            Assert.True(original[name].Bytes.SequenceEqual(back[name].Bytes), $"bytes of {name}");
        }
        Assert.Equal(original.Metadata.OrderBy(p => p.Key), back.Metadata.OrderBy(p => p.Key));
        // NaN payload and signed zero survive (compared as bits, not values).
        Assert.Equal(0x7FC00123, BitConverter.SingleToInt32Bits(back["trunk.0.weight"].ToFloat32()[5]));
        Assert.Equal(int.MinValue, BitConverter.SingleToInt32Bits(back["trunk.0.weight"].ToFloat32()[1]));
        Assert.Empty(back["optimizer.step"].Shape);
        Assert.Equal([long.MinValue + 1], back["optimizer.step"].ToInt64());
        Assert.Equal([0L, 3L], back["empty"].Shape);
    }

    [Fact]
    public void Written_bytes_follow_the_format()
    {
        var file = new SafeTensorsFile();
        file.Add("a", SafeTensor.FromFloat32([1f, 2f, 3f], 3));
        file.Add("b", SafeTensor.FromInt64([-2L], 1));
        file.Metadata["k"] = "v";
        var bytes = file.ToBytes();

        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8); // data starts 8-byte aligned
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}," +
                     "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]}}", header.TrimEnd(' '));
        Assert.Equal(8 + n + 20, bytes.Length);
        int data = 8 + (int)n;
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data)));
        Assert.Equal(3f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 8)));
        Assert.Equal(-2L, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(data + 12)));
    }

    [Fact]
    public void Reader_accepts_any_tensor_order_in_the_header()
    {
        // Offsets need not follow header order (the reference writer sorts by dtype then name).
        var data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data, 5f);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(4), 9);
        var file = SafeTensorsFile.Parse(Raw(
            "{\"late\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]},\"early\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data));
        Assert.Equal([9L], file["late"].ToInt64());
        Assert.Equal([5f], file["early"].ToFloat32());
    }

    [Fact]
    public void Conversions_between_dtypes()
    {
        Assert.Equal([1.5f, -2f], SafeTensor.FromFloat64([1.5, -2.0]).ToFloat32());
        Assert.Equal([0.1f], SafeTensor.FromFloat64([0.1]).ToFloat32()); // rounds to nearest float32
        Assert.Equal([3.0, -4.0], SafeTensor.FromInt32([3, -4]).ToFloat64());
        Assert.Equal([7, -8], SafeTensor.FromInt64([7, -8]).ToInt32());
        Assert.Empty(SafeTensor.ScalarFloat64(2.5).Shape);
        Assert.Equal([2.5], SafeTensor.ScalarFloat64(2.5).ToFloat64());
        Assert.Equal([2.5f], SafeTensor.ScalarFloat32(2.5f).ToFloat32());
        Assert.Equal([1L << 40], SafeTensor.FromInt64([1L << 40]).ToInt64());
        Assert.Throws<OverflowException>(() => SafeTensor.FromInt64([1L << 40]).ToInt32());
        Assert.Throws<InvalidOperationException>(() => SafeTensor.FromFloat32([1f]).ToInt64());
        var bf16 = new SafeTensor(SafeTensorDType.BF16, [2], [0x80, 0x3F, 0x00, 0xC0]); // 1.0, -2.0
        Assert.Equal([1f, -2f], bf16.ToFloat32());
        var f16 = new SafeTensor(SafeTensorDType.F16, [1], [0x00, 0x3C]); // 1.0
        Assert.Equal([1f], f16.ToFloat32());
    }

    [Fact]
    public void Tensor_constructor_checks_the_byte_count()
    {
        var error = Assert.Throws<ArgumentException>(() => new SafeTensor(SafeTensorDType.F32, [2, 3], new byte[20]));
        Assert.Contains("needs 24 bytes, not 20", error.Message);
        Assert.Throws<ArgumentException>(() => new SafeTensor(SafeTensorDType.F32, [-1], []));
    }

    [Fact]
    public void Truncated_file_is_rejected_at_every_cut()
    {
        var bytes = Sample().ToBytes();
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        foreach (int cut in new[] { 0, 3, 7, 8, 20, (int)n + 7, (int)n + 8 + 1, bytes.Length - 1 })
        {
            var error = Rejects(bytes[..cut], "truncated");
            Assert.NotNull(error.Message);
        }
    }

    [Fact]
    public void Truncation_inside_the_data_names_the_tensor_that_runs_past_the_end()
    {
        var bytes = Sample().ToBytes();
        var error = Rejects(bytes[..^2], "run past the end of the data");
        Assert.Equal("counts", error.TensorName); // the last tensor with bytes ("empty" has none)
        Assert.Contains("tensor 'counts'", error.Message);
    }

    [Fact]
    public void Corrupted_header_is_rejected()
    {
        var good = Sample().ToBytes();

        var noBrace = (byte[])good.Clone();
        noBrace[8] = (byte)'[';
        Rejects(noBrace, "does not start with '{'");

        var garbage = (byte[])good.Clone();
        garbage[20] = (byte)'}';
        garbage[21] = 0xFF;
        Rejects(garbage, "not valid UTF-8");

        var broken = (byte[])good.Clone();
        broken[9] = (byte)'x'; // {x__metadata__": …
        Rejects(broken, "not valid JSON");

        var huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue);
        Rejects(huge, "more than");

        Rejects(Raw("[1,2]", []), "does not start with '{'");
        Rejects(Raw("{\"x\":5}", []), "tensor 'x': its header entry is not an object");
        Rejects(Raw("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "no \"dtype\"");
        Rejects(Raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", new byte[4]), "non-negative integers");
        Rejects(Raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", new byte[4]), "non-negative integers");
        Rejects(Raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]), "twice");
        Rejects(Raw("{\"__metadata__\":{\"k\":1}}", []), "metadata values must be strings");
        Rejects(Raw("{\"__metadata__\":[\"k\"]}", []), "must be an object of strings");
    }

    [Fact]
    public void Bad_offsets_are_rejected_naming_the_tensor()
    {
        const string f1 = "\"dtype\":\"F32\",\"shape\":[1]";
        var e = Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[0,4]}},\"b\":{{{f1},\"data_offsets\":[2,6]}}}}", new byte[8]), "overlap tensor 'a'");
        Assert.Equal("b", e.TensorName);
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[0,4]}},\"b\":{{{f1},\"data_offsets\":[8,12]}}}}", new byte[12]), "gap of 4 bytes after tensor 'a'");
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[4,8]}}}}", new byte[8]), "gap of 4 bytes after the header");
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[4,0]}}}}", new byte[8]), "end before they begin");
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[0,4,8]}}}}", new byte[8]), "must be [begin, end]");
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[0,4]}}}}", new byte[9]), "5 bytes at the end belong to no tensor");
        Rejects(Raw($"{{\"a\":{{{f1},\"data_offsets\":[0,4]}}}}", new byte[3]), "run past the end");
    }

    [Fact]
    public void Size_that_does_not_match_dtype_times_shape_is_rejected()
    {
        var e = Rejects(Raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", new byte[12]),
            "dtype F32 × shape [2, 3] = 24 bytes, but data_offsets [0, 12] hold 12");
        Assert.Equal("w", e.TensorName);
        Rejects(Raw("{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), "= 16 bytes");
        Rejects(Raw("{\"w\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]), "dtype 'F8_E5M2' is not supported");
        Rejects(Raw("{\"w\":{\"dtype\":\"1\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]), "is not supported");
    }

    [Fact]
    public void Require_checks_the_expected_shape()
    {
        var file = SafeTensorsFile.Parse(Sample().ToBytes(), "ckpt.safetensors");
        Assert.Equal([2L, 4L], file.Require("trunk.0.weight", 2, 4).Shape);
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.Require("trunk.0.weight", 4, 2));
        Assert.Contains("ckpt.safetensors: tensor 'trunk.0.weight': shape is [2, 4] but [4, 2] is expected", e.Message);
        var missing = Assert.Throws<KeyNotFoundException>(() => file["trunk.9.weight"]);
        Assert.Contains("trunk.0.bias", missing.Message);
    }

    [Fact]
    public void Names_are_unique_and_metadata_key_is_reserved()
    {
        var file = new SafeTensorsFile();
        file.Add("a", SafeTensor.FromFloat32([1f]));
        Assert.Throws<ArgumentException>(() => file.Add("a", SafeTensor.FromFloat32([1f])));
        Assert.Throws<ArgumentException>(() => file.Add(SafeTensorsFile.MetadataKey, SafeTensor.FromFloat32([1f])));
    }

    [Fact]
    public void Load_from_disk_names_the_file()
    {
        using var dir = new Engine.Tests.Data.TempDirectory();
        var path = dir.File_("cut.safetensors");
        File.WriteAllBytes(path, Sample().ToBytes()[..100]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void Header_is_valid_json_for_other_readers()
    {
        var bytes = Sample().ToBytes();
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        Assert.Equal("F64", doc.RootElement.GetProperty("extra.f64").GetProperty("dtype").GetString());
    }
}
