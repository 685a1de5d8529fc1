using Engine.Checkpoints;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine;

public sealed partial class MultiTaskModel
{
    private static readonly string[] s_optimizerScalars =
        [OptimizerState<float>.Step, OptimizerState<float>.SkippedSteps, OptimizerState<float>.ScheduleStep,
         PlateauSchedule.BadEpochsName, PlateauSchedule.CooldownLeftName, PlateauSchedule.ReductionsName];

    /// <summary>
    /// Writes the model to a safetensors checkpoint (atomically): every parameter as F32 under its
    /// <see cref="CheckpointNames"/> name, the spec as <c>engine.config</c> JSON, the preprocessing of
    /// <paramref name="metadata"/> (default: <see cref="Metadata"/>), and, when <paramref name="optimizerState"/> is
    /// given, its state (<c>optimizer.{state}.{parameter}</c>, <c>optimizer.step</c>, <c>optimizer.skipped_steps</c>,
    /// <c>optimizer.schedule_step</c>) so that training can resume exactly. Get the state from
    /// <see cref="IOptimizer{T}.SaveState"/> or <see cref="Training.TrainingResult.OptimizerState"/>.
    /// </summary>
    /// <exception cref="Training.TrainingDivergedException">A parameter holds NaN or ±∞: nothing is written, the old file stays.</exception>
    public void Save(string path, ModelMetadata? metadata = null, OptimizerState<float>? optimizerState = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Checkpoint checkpoint;
        try { checkpoint = ToCheckpoint(metadata, optimizerState); }
        catch (Training.TrainingDivergedException e)
        {
            throw new Training.TrainingDivergedException($"{path}: not saved, the file there (if any) is unchanged: {e.Message}");
        }
        checkpoint.Save(path);
    }

    /// <summary>
    /// As <see cref="Save(string, ModelMetadata?, OptimizerState{float}?)"/>, to <paramref name="stream"/> (left open). The
    /// checkpoint is built in memory first, so a model holding NaN or ±∞ writes nothing to the stream.
    /// </summary>
    /// <exception cref="Training.TrainingDivergedException">A parameter holds NaN or ±∞: nothing is written.</exception>
    public void Save(Stream stream, ModelMetadata? metadata = null, OptimizerState<float>? optimizerState = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ToCheckpoint(metadata, optimizerState).Save(stream);
    }

    /// <summary>The index of the first NaN or ±∞ in <paramref name="values"/>, or −1.</summary>
    internal static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>The checkpoint <see cref="Save(string, ModelMetadata?, OptimizerState{float}?)"/> writes, in memory.</summary>
    /// <exception cref="Training.TrainingDivergedException">A parameter holds NaN or ±∞ (nothing is written).</exception>
    public Checkpoint ToCheckpoint(ModelMetadata? metadata = null, OptimizerState<float>? optimizerState = null)
    {
        metadata ??= Metadata;
        var checkpoint = new Checkpoint
        {
            ConfigJson = Spec.ToJson(),
            Standardization = metadata?.Standardization,
            Encoding = metadata?.Encoding,
            Schema = metadata?.Schema,
        };
        foreach (var (key, value) in metadata?.Properties ?? new Dictionary<string, string>())
        {
            if (key.StartsWith("engine.", StringComparison.Ordinal) || key == Checkpoint.FormatKey)
                throw new ArgumentException($"Metadata property '{key}' is reserved (keys starting with 'engine.' and 'format' belong to the checkpoint).", nameof(metadata));
            checkpoint.Tensors.Metadata[key] = value;
        }
        foreach (var slot in Parameters.Slots)
        {
            var values = ReadParameter(slot.Name);
            int bad = IndexOfNonFinite(values);
            if (bad >= 0)
                throw new Training.TrainingDivergedException(
                    $"parameter '{slot.Name}' element {bad} is {values[bad]}; a model holding NaN or ±∞ is never saved (training diverged).");
            checkpoint.Tensors.Add(slot.Name, SafeTensor.FromFloat32(values, Array.ConvertAll(slot.Shape, d => (long)d)));
        }
        if (optimizerState is not null) AddOptimizerState(checkpoint.Tensors, optimizerState);
        return checkpoint;
    }

    private void AddOptimizerState(SafeTensorsFile file, OptimizerState<float> state)
    {
        foreach (var (name, values) in state.Tensors)
        {
            int dot = name.IndexOf('.');
            string parameter = name[(dot + 1)..];
            // A model parameter's state has its shape; a learned method parameter's (TrainingStep.SaveState: uncertainty's
            // log-variances, param.* and its moments) is a vector.
            var slot = Parameters.Slots.FirstOrDefault(s => s.Name == parameter);
            long[] shape = slot is null ? [values.Length] : Array.ConvertAll(slot.Shape, d => (long)d);
            file.Add(CheckpointNames.Optimizer(name[..dot], parameter), SafeTensor.FromFloat32(values, shape));
        }
        foreach (var (name, values) in state.Float64Tensors) // a method's float64 state (GradVac's targets): F64, bit for bit
        {
            int dot = name.IndexOf('.');
            file.Add(CheckpointNames.Optimizer(name[..dot], name[(dot + 1)..]), SafeTensor.FromFloat64(values, [values.Length]));
        }
        foreach (var (name, value) in state.Scalars) // counters as I64; the plateau's best loss as F64 (+∞ before the first epoch)
            file.Add(CheckpointNames.OptimizerPrefix + name,
                name == PlateauSchedule.BestName ? SafeTensor.ScalarFloat64(value) : SafeTensor.ScalarInt64((long)value));
    }

    /// <summary>
    /// Reads a checkpoint written by <see cref="Save(string, ModelMetadata?, OptimizerState{float}?)"/>: builds the model from its <c>engine.config</c> spec on
    /// <paramref name="backend"/>, loads every parameter, and sets <see cref="Metadata"/> from the stored preprocessing.
    /// A file without <c>engine.config</c> (e.g. written by PyTorch) cannot say what model it is: build the model
    /// with <see cref="Create"/> and call <see cref="LoadWeights(string, IReadOnlyDictionary{string, string}?, bool)"/>.
    /// </summary>
    public static MultiTaskModel Load(string path, Backend<float> backend)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromCheckpoint(Checkpoint.Load(path), backend);
    }

    /// <summary>As <see cref="Load(string, Backend{float})"/>, from the rest of <paramref name="stream"/> (left open); messages
    /// name <paramref name="source"/>, by default the stream's file or type, and the tensor at fault.</summary>
    public static MultiTaskModel Load(Stream stream, Backend<float> backend, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return FromCheckpoint(Checkpoint.Load(stream, source), backend);
    }

    /// <summary>As <see cref="Load(string, Backend{float})"/>, from a checkpoint already in memory.</summary>
    public static MultiTaskModel FromCheckpoint(Checkpoint checkpoint, Backend<float> backend)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(backend);
        var json = checkpoint.ConfigJson ?? throw new SafeTensorsFormatException(checkpoint.Tensors.Source, null,
            $"metadata '{Checkpoint.ConfigKey}' is missing, so the file does not say what model it holds; build the model with MultiTaskModel.Create and call LoadWeights.");
        ModelSpec spec;
        try { spec = ModelSpec.FromJson(json); }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException)
        {
            throw new SafeTensorsFormatException(checkpoint.Tensors.Source, null, $"metadata '{Checkpoint.ConfigKey}' is not a valid model spec: {e.Message}", e);
        }
        var model = new MultiTaskModel(spec, backend);
        try
        {
            model.LoadWeights(checkpoint.Tensors);
            var properties = checkpoint.Tensors.Metadata
                .Where(p => p.Key != Checkpoint.FormatKey && !p.Key.StartsWith("engine.", StringComparison.Ordinal))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            model.Metadata = new ModelMetadata(checkpoint.Standardization, checkpoint.Encoding, checkpoint.Schema, properties);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Overwrites the parameters with the tensors of a safetensors file (an Engine checkpoint, or weights written by
    /// PyTorch). <paramref name="rename"/> maps names in the file to parameter names (e.g. an <c>nn.Sequential</c>'s
    /// <c>"0.weight"</c> → <c>"trunk.0.weight"</c>); names it does not mention are used as they are. Every parameter must
    /// be present with its shape ([out, in] weights, [out] biases), dtype F32 and finite values; with <paramref name="strict"/>, a
    /// tensor that is neither a parameter nor optimizer state is an error too (as <c>load_state_dict(strict=True)</c>).
    /// Nothing is changed when it throws.
    /// </summary>
    public void LoadWeights(string path, IReadOnlyDictionary<string, string>? rename = null, bool strict = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        LoadWeights(SafeTensorsFile.Load(path), rename, strict);
    }

    /// <summary>As <see cref="LoadWeights(string, IReadOnlyDictionary{string, string}?, bool)"/>, from the rest of
    /// <paramref name="stream"/> (left open; messages name <paramref name="source"/>, by default the stream's file or type).</summary>
    public void LoadWeights(Stream stream, IReadOnlyDictionary<string, string>? rename = null, bool strict = true, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        LoadWeights(SafeTensorsFile.Load(stream, source), rename, strict);
    }

    /// <summary>As <see cref="LoadWeights(string, IReadOnlyDictionary{string, string}?, bool)"/>, from a file in memory.</summary>
    public void LoadWeights(SafeTensorsFile file, IReadOnlyDictionary<string, string>? rename = null, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        var byParameter = new Dictionary<string, string>(StringComparer.Ordinal); // parameter name → file name
        foreach (var name in file.Names)
        {
            string target = rename is not null && rename.TryGetValue(name, out var mapped) ? mapped : name;
            bool known = Parameters.Slots.Any(s => s.Name == target);
            if (!known)
            {
                if (strict && !CheckpointNames.IsOptimizerState(name))
                    throw new SafeTensorsFormatException(file.Source, name,
                        $"is not a parameter of this model (parameters: {string.Join(", ", Parameters.Slots.Select(s => s.Name))}); pass strict: false to ignore it.");
                continue;
            }
            if (!byParameter.TryAdd(target, name))
                throw new SafeTensorsFormatException(file.Source, name, $"maps to parameter '{target}', which '{byParameter[target]}' maps to as well.");
        }
        var values = new List<(ParameterSlot Slot, float[] Values)>();
        foreach (var slot in Parameters.Slots)
        {
            if (!byParameter.TryGetValue(slot.Name, out var source))
                throw new SafeTensorsFormatException(file.Source, slot.Name, $"is missing: the model's parameter '{slot.Name}' [{string.Join(", ", slot.Shape)}] has no tensor in the file.");
            var tensor = file.Require(source, Array.ConvertAll(slot.Shape, d => (long)d));
            if (tensor.DType != SafeTensorDType.F32)
                throw new SafeTensorsFormatException(file.Source, source,
                    $"dtype is {tensor.DType} but the model's parameters are F32 (float32): weights are never reinterpreted or converted " +
                    "from another dtype (convert them first, e.g. tensor.float() in PyTorch).");
            var data = tensor.ToFloat32();
            for (int i = 0; i < data.Length; i++)
                if (!float.IsFinite(data[i]))
                    throw new SafeTensorsFormatException(file.Source, source, $"element {i} is {data[i]}; parameters must be finite.");
            values.Add((slot, data));
        }
        foreach (var (slot, data) in values) Backend.Upload<float>(data, Parameters.ValuesOf(slot));
    }

    /// <summary>The optimizer state stored in a checkpoint (null when it holds none), ready for
    /// <see cref="IOptimizer{T}.LoadState"/> (or <see cref="Training.TrainerOptions.InitialOptimizerState"/>).</summary>
    public static OptimizerState<float>? ReadOptimizerState(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        if (!checkpoint.HasOptimizerState) return null;
        var tensors = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        var float64 = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var name in checkpoint.Tensors.Names.Where(CheckpointNames.IsOptimizerState))
        {
            string rest = name[CheckpointNames.OptimizerPrefix.Length..];
            var tensor = checkpoint.Tensors[name];
            if (rest == PlateauSchedule.BestName)
            {
                if (tensor.DType != SafeTensorDType.F64 || tensor.ElementCount != 1)
                    throw new SafeTensorsFormatException(checkpoint.Tensors.Source, name, $"must be an F64 scalar but is {tensor.DType} [{string.Join(", ", tensor.Shape)}].");
                scalars[rest] = tensor.ToFloat64()[0];
            }
            else if (s_optimizerScalars.Contains(rest))
            {
                if (tensor.DType != SafeTensorDType.I64)
                    throw new SafeTensorsFormatException(checkpoint.Tensors.Source, name, $"dtype is {tensor.DType} but optimizer counters are I64.");
                if (tensor.ElementCount != 1)
                    throw new SafeTensorsFormatException(checkpoint.Tensors.Source, name, $"must be a scalar but has shape [{string.Join(", ", tensor.Shape)}].");
                scalars[rest] = tensor.ToFloat64()[0];
            }
            else if (tensor.DType == SafeTensorDType.F64 && rest.StartsWith(Training.TrainingStep.MethodStateBuffer + ".", StringComparison.Ordinal))
                float64[rest] = tensor.ToFloat64();   // a method's float64 state (GradVac's targets)
            else if (tensor.DType != SafeTensorDType.F32)
                throw new SafeTensorsFormatException(checkpoint.Tensors.Source, name, $"dtype is {tensor.DType} but optimizer state is F32 (float32).");
            else tensors[rest] = tensor.ToFloat32();
        }
        return new OptimizerState<float>(tensors, scalars, float64);
    }
}
