using Engine.Data;
using Engine.Kernels;

namespace Engine.Cli.Commands;

/// <summary>A model saved by <c>mtl train --save</c>, with the preprocessing it needs to read raw CSV rows.</summary>
internal sealed class SavedModel(MultiTaskModel model, Standardization standardization, DataEncoding encoding, TableSchema schema) : IDisposable
{
    public MultiTaskModel Model { get; } = model;
    public Standardization Standardization { get; } = standardization;
    public DataEncoding Encoding { get; } = encoding;
    public TableSchema Schema { get; } = schema;

    /// <summary>Loads <paramref name="path"/> onto <paramref name="backend"/>. A missing, truncated or foreign file
    /// is bad input (exit 1): the checkpoint reader names what is wrong.</summary>
    public static SavedModel Load(string path, Backend<float> backend)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such model file.", path);
        MultiTaskModel model;
        try { model = MultiTaskModel.Load(path, backend); }
        catch (Exception e) when (e is ArgumentException or KeyNotFoundException or InvalidOperationException or System.Text.Json.JsonException)
        {
            throw new BadInputException($"{path}: not a model this program can load: {e.Message}", e);
        }
        var m = model.Metadata;
        if (m?.Standardization is null || m.Encoding is null || m.Schema is null)
        {
            model.Dispose();
            throw new BadInputException($"{path}: the file has weights but not the standardization, label maps and schema that 'mtl train --save' stores; it cannot read CSV rows.");
        }
        return new SavedModel(model, m.Standardization, m.Encoding, m.Schema);
    }

    public void Dispose() => Model.Dispose();
}
