using System.Runtime.InteropServices;

namespace Engine.Checkpoints;

/// <summary>
/// One tensor of a safetensors file: dtype, shape and its raw little-endian bytes, row-major (C order,
/// last index fastest — PyTorch's contiguous layout). A dense layer's weight is [out, in], as <c>nn.Linear</c>.
/// Build one with <see cref="FromFloat32"/> and friends; read values with <see cref="ToFloat32"/> and friends,
/// which convert between the supported dtypes.
/// </summary>
public sealed class SafeTensor
{
    private readonly byte[] _bytes;
    private readonly long[] _shape;

    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The shape; empty for a scalar (one element).</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>The number of elements, the product of the shape (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The raw little-endian bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Creates a tensor over <paramref name="bytes"/> (not copied), checking that
    /// bytes.Length = dtype size × Π shape.</summary>
    public SafeTensor(SafeTensorDType dtype, long[] shape, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(bytes);
        DType = dtype;
        _shape = (long[])shape.Clone();
        ElementCount = ElementsOf(_shape) ?? throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative dimension or too many elements.", nameof(shape));
        long expected = ElementCount * dtype.Size();
        if (bytes.Length != expected)
            throw new ArgumentException($"A {dtype} tensor of shape [{string.Join(", ", shape)}] needs {expected} bytes, not {bytes.Length}.", nameof(bytes));
        _bytes = bytes;
    }

    /// <summary>Π shape, or null when a dimension is negative or the product overflows.</summary>
    internal static long? ElementsOf(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            if (d < 0) return null;
            try { n = checked(n * d); } catch (OverflowException) { return null; }
        }
        return n;
    }

    /// <summary>A scalar (shape []) I64 tensor, e.g. an optimizer's step count.</summary>
    public static SafeTensor ScalarInt64(long value) => new(SafeTensorDType.I64, [], BitConverter.GetBytes(value));

    /// <summary>A scalar (shape []) F32 tensor.</summary>
    public static SafeTensor ScalarFloat32(float value) => new(SafeTensorDType.F32, [], BitConverter.GetBytes(value));

    /// <summary>A scalar (shape []) F64 tensor.</summary>
    public static SafeTensor ScalarFloat64(double value) => new(SafeTensorDType.F64, [], BitConverter.GetBytes(value));

    /// <summary>An F32 tensor (values copied). No shape means 1-D, [values.Length]; use <see cref="ScalarFloat32"/> for shape [].</summary>
    public static SafeTensor FromFloat32(ReadOnlySpan<float> values, params long[] shape) => From(SafeTensorDType.F32, values, shape);

    /// <summary>An F64 tensor (values copied).</summary>
    public static SafeTensor FromFloat64(ReadOnlySpan<double> values, params long[] shape) => From(SafeTensorDType.F64, values, shape);

    /// <summary>An I64 tensor (values copied).</summary>
    public static SafeTensor FromInt64(ReadOnlySpan<long> values, params long[] shape) => From(SafeTensorDType.I64, values, shape);

    /// <summary>An I32 tensor (values copied).</summary>
    public static SafeTensor FromInt32(ReadOnlySpan<int> values, params long[] shape) => From(SafeTensorDType.I32, values, shape);

    private static SafeTensor From<T>(SafeTensorDType dtype, ReadOnlySpan<T> values, long[] shape) where T : unmanaged
    {
        RequireLittleEndian();
        if (shape.Length == 0) shape = [values.Length];
        return new SafeTensor(dtype, shape, MemoryMarshal.AsBytes(values).ToArray());
    }

    /// <summary>The values as float32: F32 as is; F64, F16, BF16 and integers converted (F64 rounds to nearest).</summary>
    public float[] ToFloat32()
    {
        RequireLittleEndian();
        return DType switch
        {
            SafeTensorDType.F32 => MemoryMarshal.Cast<byte, float>(_bytes).ToArray(),
            SafeTensorDType.BF16 => MemoryMarshal.Cast<byte, ushort>(_bytes).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray(),
            SafeTensorDType.F16 => MemoryMarshal.Cast<byte, Half>(_bytes).ToArray().Select(h => (float)h).ToArray(),
            _ => Array.ConvertAll(ToFloat64(), v => (float)v),
        };
    }

    /// <summary>The values as float64 (exact for every dtype except I64 beyond 2⁵³).</summary>
    public double[] ToFloat64()
    {
        RequireLittleEndian();
        return DType switch
        {
            SafeTensorDType.F64 => MemoryMarshal.Cast<byte, double>(_bytes).ToArray(),
            SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 => Array.ConvertAll(ToFloat32(), v => (double)v),
            _ => Array.ConvertAll(ToInt64(), v => (double)v),
        };
    }

    /// <summary>The values as int64; only for integer and BOOL dtypes (a float tensor is an error, not a silent truncation).</summary>
    public long[] ToInt64()
    {
        RequireLittleEndian();
        return DType switch
        {
            SafeTensorDType.I64 => MemoryMarshal.Cast<byte, long>(_bytes).ToArray(),
            SafeTensorDType.I32 => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(_bytes).ToArray(), v => (long)v),
            SafeTensorDType.I16 => Array.ConvertAll(MemoryMarshal.Cast<byte, short>(_bytes).ToArray(), v => (long)v),
            SafeTensorDType.I8 => Array.ConvertAll(MemoryMarshal.Cast<byte, sbyte>(_bytes).ToArray(), v => (long)v),
            SafeTensorDType.U8 or SafeTensorDType.BOOL => Array.ConvertAll(_bytes, v => (long)v),
            _ => throw new InvalidOperationException($"A {DType} tensor cannot be read as integers."),
        };
    }

    /// <summary>The values as int32; integer dtypes only, each value checked to fit.</summary>
    public int[] ToInt32() => Array.ConvertAll(ToInt64(), v => v is >= int.MinValue and <= int.MaxValue ? (int)v
        : throw new OverflowException($"Value {v} of this {DType} tensor does not fit in an int32."));

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported.");
    }

    /// <summary>"F32 [4, 3]".</summary>
    public override string ToString() => $"{DType} [{string.Join(", ", _shape)}]";
}
