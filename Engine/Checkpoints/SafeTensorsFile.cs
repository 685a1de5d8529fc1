using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Engine.Checkpoints;

/// <summary>
/// The contents of a safetensors file: named tensors (in order) and a string→string metadata map.
/// <para>Format (github.com/huggingface/safetensors): 8 bytes, N as a little-endian uint64; N bytes of UTF-8
/// JSON <c>{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …}</c>
/// (padded with spaces to a multiple of 8 bytes); then the data, where tensor bytes lie at
/// [8 + N + begin, 8 + N + end), little-endian, row-major. The tensors tile the data exactly: no gaps,
/// no overlaps, nothing after the last one.</para>
/// <para><see cref="Load(string)"/> validates all of this and reports what is wrong with the file and tensor named;
/// <see cref="Save(string)"/> replaces the file atomically (<see cref="AtomicFile"/>).</para>
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>The largest header accepted (as the reference implementation: 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>The reserved header key of the metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    private readonly List<string> _names = [];
    private readonly Dictionary<string, SafeTensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>Free-form string metadata, written under <c>__metadata__</c>.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The tensor names, in file order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The number of tensors.</summary>
    public int Count => _names.Count;

    /// <summary>Where this content was loaded from, for messages ("&lt;memory&gt;" when built in code).</summary>
    public string Source { get; private set; } = "<memory>";

    /// <summary>The tensor named <paramref name="name"/>; a missing name is a <see cref="KeyNotFoundException"/> listing the names there are.</summary>
    public SafeTensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"{Source}: no tensor '{name}' (tensors: {string.Join(", ", _names)}).");

    /// <summary>Whether a tensor has this name.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor, or false.</summary>
    public bool TryGet(string name, out SafeTensor tensor) => _tensors.TryGetValue(name, out tensor!);

    /// <summary>Adds a tensor (names are unique; <c>__metadata__</c> is reserved).</summary>
    public void Add(string name, SafeTensor tensor)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for the metadata map.", nameof(name));
        if (!_tensors.TryAdd(name, tensor)) throw new ArgumentException($"A tensor named '{name}' is already present.", nameof(name));
        _names.Add(name);
    }

    /// <summary>Removes a tensor if present.</summary>
    public bool Remove(string name) => _tensors.Remove(name) && _names.Remove(name);

    /// <summary>The tensor, checked to have the dtype-independent <paramref name="shape"/> the caller expects
    /// (e.g. a layer's [out, in]); the error names the file, the tensor and both shapes.</summary>
    public SafeTensor Require(string name, params long[] shape)
    {
        var t = this[name];
        if (!t.Shape.SequenceEqual(shape))
            throw new SafeTensorsFormatException(Source, name, $"shape is [{string.Join(", ", t.Shape)}] but [{string.Join(", ", shape)}] is expected.");
        return t;
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Writes the file atomically: the old file at <paramref name="path"/> stays intact if this fails.</summary>
    public void Save(string path) => Save(path, s => s);

    /// <summary>As <see cref="Save(string)"/>, with the temporary file's stream wrapped (tests inject failures here).</summary>
    internal void Save(string path, Func<Stream, Stream> wrap) => AtomicFile.Write(path, s => WriteTo(wrap(s)));

    /// <summary>The file's bytes.</summary>
    public byte[] ToBytes()
    {
        using var memory = new MemoryStream();
        WriteTo(memory);
        return memory.ToArray();
    }

    /// <summary>Writes header and data to <paramref name="stream"/> (left open). Unlike <see cref="Save(string)"/> this is
    /// not atomic: a failure part-way leaves part of the bytes in the stream.</summary>
    public void WriteTo(Stream stream)
    {
        var header = Header();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var name in _names) stream.Write(_tensors[name].Bytes);
        stream.Flush();
    }

    /// <summary>The JSON header, space-padded so that the data starts 8-byte aligned (as the reference writer does).</summary>
    private byte[] Header()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (k, v) in Metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in _names)
            {
                var t = _tensors[name];
                json.WriteStartObject(name);
                json.WriteString("dtype", t.DType.Name());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += t.Bytes.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Reads and validates a file.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is truncated, corrupted or inconsistent.</exception>
    public static SafeTensorsFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads and validates the safetensors bytes from the current position of <paramref name="stream"/> to its end
    /// (the stream is left open). Messages name <paramref name="source"/>, by default the file of a <see cref="FileStream"/>
    /// or the stream's type (<c>&lt;MemoryStream&gt;</c>), and the tensor at fault.</summary>
    /// <exception cref="SafeTensorsFormatException">The bytes are truncated, corrupted or inconsistent.</exception>
    public static SafeTensorsFile Load(Stream stream, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Parse(StreamNames.ReadToEnd(stream), StreamNames.Of(stream, source));
    }

    /// <summary>Parses and validates the bytes of a file; <paramref name="source"/> names it in messages.</summary>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> file, string source = "<memory>")
    {
        SafeTensorsFormatException Bad(string problem, string? tensor = null, Exception? inner = null) => new(source, tensor, problem, inner);

        if (file.Length < 8)
            throw Bad($"the file is {file.Length} bytes, too short for the 8-byte header length: truncated, or not a safetensors file.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderBytes)
            throw Bad($"the header length is {n} bytes, more than the {MaxHeaderBytes} allowed: corrupted, or not a safetensors file.");
        if (n > (ulong)(file.Length - 8))
            throw Bad($"the header length is {n} bytes but only {file.Length - 8} bytes follow it: the file is truncated.");
        var headerBytes = file.Slice(8, (int)n);
        var data = file[(8 + (int)n)..];
        if (n == 0 || headerBytes[0] != (byte)'{')
            throw Bad("the header does not start with '{': corrupted, or not a safetensors file.");

        if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            throw Bad("the header is not valid UTF-8: corrupted, or not a safetensors file.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Bad($"the header is not valid JSON ({e.Message}).", null, e);
        }

        var result = new SafeTensorsFile { Source = source };
        var entries = new List<(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)>();
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Bad("the header is not a JSON object.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var name = property.Name;
                if (!seen.Add(name)) throw Bad("the header names it twice.", name);
                if (name == MetadataKey) { ReadMetadata(property.Value, result.Metadata, Bad); continue; }
                entries.Add(ReadEntry(name, property.Value, Bad));
            }
        }

        // The tensors must tile [0, data.Length) exactly, in offset order.
        long expectedBegin = 0;
        string? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > data.Length)
                throw Bad($"data_offsets [{e.Begin}, {e.End}] run past the end of the data ({data.Length} bytes): the file is truncated.", e.Name);
            if (e.Begin < expectedBegin)
                throw Bad($"data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous}', which ends at {expectedBegin}.", e.Name);
            if (e.Begin > expectedBegin)
                throw Bad($"data_offsets [{e.Begin}, {e.End}] leave a gap of {e.Begin - expectedBegin} bytes after {(previous is null ? "the header" : $"tensor '{previous}'")}.", e.Name);
            expectedBegin = e.End;
            previous = e.Name;
        }
        if (expectedBegin != data.Length)
            throw Bad($"the data area has {data.Length} bytes but the tensors cover {expectedBegin}: {data.Length - expectedBegin} bytes at the end belong to no tensor.");

        foreach (var e in entries)
            result.Add(e.Name, new SafeTensor(e.DType, e.Shape, data[(int)e.Begin..(int)e.End].ToArray()));
        return result;
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, Func<string, string?, Exception?, SafeTensorsFormatException> bad)
    {
        if (value.ValueKind != JsonValueKind.Object) throw bad($"'{MetadataKey}' must be an object of strings.", null, null);
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw bad($"metadata value '{item.Name}' is a {item.Value.ValueKind}, but metadata values must be strings.", null, null);
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw bad($"metadata key '{item.Name}' appears twice.", null, null);
        }
    }

    private static (string, SafeTensorDType, long[], long, long) ReadEntry(string name, JsonElement value,
        Func<string, string?, Exception?, SafeTensorsFormatException> bad)
    {
        if (value.ValueKind != JsonValueKind.Object) throw bad("its header entry is not an object.", name, null);
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw bad("its header entry has no \"dtype\" string.", name, null);
        var dtypeName = dtypeElement.GetString()!;
        if (!SafeTensorDTypes.TryParse(dtypeName, out var dtype))
            throw bad($"dtype '{dtypeName}' is not supported (supported: {string.Join(", ", Enum.GetNames<SafeTensorDType>())}).", name, null);
        var shape = Integers(value, "shape", name, bad);
        var offsets = Integers(value, "data_offsets", name, bad);
        if (offsets.Length != 2) throw bad($"data_offsets must be [begin, end], not {offsets.Length} numbers.", name, null);
        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end) throw bad($"data_offsets [{begin}, {end}] end before they begin.", name, null);
        long elements = SafeTensor.ElementsOf(shape) ?? throw bad($"shape [{string.Join(", ", shape)}] is too large.", name, null);
        long expected;
        try { expected = checked(elements * dtype.Size()); }
        catch (OverflowException) { throw bad($"shape [{string.Join(", ", shape)}] is too large.", name, null); }
        if (end - begin != expected)
            throw bad($"dtype {dtypeName} × shape [{string.Join(", ", shape)}] = {expected} bytes, but data_offsets [{begin}, {end}] hold {end - begin}.", name, null);
        return (name, dtype, shape, begin, end);
    }

    private static long[] Integers(JsonElement entry, string key, string name, Func<string, string?, Exception?, SafeTensorsFormatException> bad)
    {
        if (!entry.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw bad($"its header entry has no \"{key}\" list.", name, null);
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw bad($"\"{key}\" must hold non-negative integers, but has {item.GetRawText()}.", name, null);
            values[i++] = v;
        }
        return values;
    }
}
