using System.Text.Json;
using Engine.Data;

namespace Engine.Checkpoints;

/// <summary>
/// A model checkpoint: a safetensors file with the model's parameters (and, optionally, optimizer state)
/// named by <see cref="CheckpointNames"/>, plus metadata that makes it self-contained for prediction:
/// <list type="table">
/// <item><term><c>format</c></term><description><c>pt</c> (as PyTorch-oriented safetensors files say).</description></item>
/// <item><term><c>engine.format_version</c></term><description>the version of this layout, <see cref="FormatVersion"/>.</description></item>
/// <item><term><c>engine.config</c></term><description>the model configuration, JSON owned by the model (<see cref="ConfigJson"/>).</description></item>
/// <item><term><c>engine.standardizer</c></term><description><see cref="Standardization.ToJson"/>.</description></item>
/// <item><term><c>engine.labels</c></term><description><see cref="DataEncoding.ToJson"/>: class label maps and one-hot vocabularies.</description></item>
/// <item><term><c>engine.schema</c></term><description><see cref="TableSchema.ToJson"/>: which columns the model reads.</description></item>
/// </list>
/// A file written by PyTorch (no <c>engine.*</c> keys) loads too: its typed properties are then null.
/// </summary>
public sealed class Checkpoint
{
    /// <summary>Metadata keys.</summary>
    public const string FormatKey = "format", VersionKey = "engine.format_version", ConfigKey = "engine.config",
        StandardizerKey = "engine.standardizer", LabelsKey = "engine.labels", SchemaKey = "engine.schema";

    /// <summary>The version written to <c>engine.format_version</c>.</summary>
    public const string FormatVersion = "1";

    /// <summary>All tensors (parameters and optimizer state) and the raw metadata.</summary>
    public SafeTensorsFile Tensors { get; }

    /// <summary>The model configuration as JSON (<c>engine.config</c>); must be well-formed JSON when set.</summary>
    public string? ConfigJson { get; set; }

    /// <summary>The standardization fitted on the training split (<c>engine.standardizer</c>).</summary>
    public Standardization? Standardization { get; set; }

    /// <summary>Label maps and one-hot vocabularies (<c>engine.labels</c>).</summary>
    public DataEncoding? Encoding { get; set; }

    /// <summary>The column roles (<c>engine.schema</c>).</summary>
    public TableSchema? Schema { get; set; }

    /// <summary>An empty checkpoint to fill.</summary>
    public Checkpoint() : this(new SafeTensorsFile()) { }

    private Checkpoint(SafeTensorsFile tensors) => Tensors = tensors;

    /// <summary>The names of the model's parameters (every tensor that is not optimizer state), in file order.</summary>
    public IEnumerable<string> ParameterNames => Tensors.Names.Where(n => !CheckpointNames.IsOptimizerState(n));

    /// <summary>Whether optimizer state was saved.</summary>
    public bool HasOptimizerState => Tensors.Names.Any(CheckpointNames.IsOptimizerState);

    /// <summary>Drops the optimizer state (e.g. to ship a smaller file for prediction only).</summary>
    public void RemoveOptimizerState()
    {
        foreach (var name in Tensors.Names.Where(CheckpointNames.IsOptimizerState).ToList()) Tensors.Remove(name);
    }

    /// <summary>Writes the checkpoint atomically (see <see cref="AtomicFile"/>).</summary>
    public void Save(string path)
    {
        StoreMetadata();
        Tensors.Save(path);
    }

    /// <summary>Writes the checkpoint's bytes to <paramref name="stream"/> (left open; not atomic, unlike <see cref="Save(string)"/>).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        StoreMetadata();
        Tensors.WriteTo(stream);
    }

    /// <summary>The file's bytes (metadata included).</summary>
    public byte[] ToBytes()
    {
        StoreMetadata();
        return Tensors.ToBytes();
    }

    private void StoreMetadata()
    {
        var m = Tensors.Metadata;
        m[FormatKey] = "pt";
        m[VersionKey] = FormatVersion;
        if (ConfigJson is not null)
        {
            try { using var _ = JsonDocument.Parse(ConfigJson); }
            catch (JsonException e) { throw new ArgumentException($"ConfigJson is not valid JSON: {e.Message}", nameof(ConfigJson), e); }
        }
        Set(ConfigKey, ConfigJson);
        Set(StandardizerKey, Standardization?.ToJson());
        Set(LabelsKey, Encoding?.ToJson());
        Set(SchemaKey, Schema?.ToJson());

        void Set(string key, string? value)
        {
            if (value is null) m.Remove(key);
            else m[key] = value;
        }
    }

    /// <summary>Reads and validates a checkpoint (any safetensors file; the <c>engine.*</c> metadata is optional).</summary>
    /// <exception cref="SafeTensorsFormatException">The file is truncated or corrupted, or a metadata entry is malformed.</exception>
    public static Checkpoint Load(string path) => From(SafeTensorsFile.Load(path));

    /// <summary>Reads a checkpoint from the rest of <paramref name="stream"/> (left open); messages name <paramref name="source"/>,
    /// by default the stream's file or type (see <see cref="SafeTensorsFile.Load(Stream, string?)"/>).</summary>
    public static Checkpoint Load(Stream stream, string? source = null) => From(SafeTensorsFile.Load(stream, source));

    /// <summary>Reads a checkpoint from bytes; <paramref name="source"/> names it in messages.</summary>
    public static Checkpoint Parse(ReadOnlySpan<byte> bytes, string source = "<memory>") => From(SafeTensorsFile.Parse(bytes, source));

    private static Checkpoint From(SafeTensorsFile file)
    {
        var m = file.Metadata;
        if (m.TryGetValue(VersionKey, out var version) && version != FormatVersion)
            throw new SafeTensorsFormatException(file.Source, null, $"metadata '{VersionKey}': format version '{version}' is not supported (this build reads '{FormatVersion}').");
        return new Checkpoint(file)
        {
            ConfigJson = Read(ConfigKey, s => { using var _ = JsonDocument.Parse(s); return s; }),
            Standardization = Read(StandardizerKey, Standardization.FromJson),
            Encoding = Read(LabelsKey, DataEncoding.FromJson),
            Schema = Read(SchemaKey, TableSchema.FromJson),
        };

        T? Read<T>(string key, Func<string, T> parse) where T : class
        {
            if (!m.TryGetValue(key, out var text)) return null;
            try { return parse(text); }
            catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
            {
                throw new SafeTensorsFormatException(file.Source, null, $"metadata '{key}' is malformed: {e.Message}", e);
            }
        }
    }
}
