namespace Engine.Checkpoints;

/// <summary>
/// A safetensors file (or checkpoint) that cannot be read: truncated, corrupted header, bad offsets, sizes
/// that do not match dtype × shape, unsupported dtype, bad metadata. The message starts with the file and,
/// where one is at fault, the tensor (or metadata key).
/// </summary>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>The file (or "&lt;memory&gt;").</summary>
    public string FilePath { get; }

    /// <summary>The tensor or metadata key at fault, or null.</summary>
    public string? TensorName { get; }

    /// <summary>Creates the exception; the message is "file: tensor 'name': problem".</summary>
    public SafeTensorsFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(tensorName is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensorName}': {problem}", inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }
}
