using Engine.Data;

namespace Engine;

/// <summary>
/// What a checkpoint carries besides the weights so that the model can be used on raw data again: the
/// preprocessing the caller applied (standardization, label maps and one-hot vocabularies, the column
/// schema) and free-form string properties (e.g. the experiment's settings). The engine does not interpret
/// any of it; it stores it on <see cref="MultiTaskModel.Save(string, ModelMetadata?, Optimizers.OptimizerState{float}?)"/> and gives it back from <see cref="MultiTaskModel.Load(string, Kernels.Backend{float})"/>
/// (<see cref="MultiTaskModel.Metadata"/>).
/// </summary>
/// <param name="Standardization">μ/σ of inputs and regression targets (metadata key <c>engine.standardizer</c>).</param>
/// <param name="Encoding">Class label maps and one-hot vocabularies (<c>engine.labels</c>).</param>
/// <param name="Schema">Which columns are inputs and targets (<c>engine.schema</c>).</param>
/// <param name="Properties">Any other string metadata, stored under its own keys (keys must not start with
/// <c>engine.</c> and must not be <c>format</c>).</param>
public sealed record ModelMetadata(
    Standardization? Standardization = null,
    DataEncoding? Encoding = null,
    TableSchema? Schema = null,
    IReadOnlyDictionary<string, string>? Properties = null);
