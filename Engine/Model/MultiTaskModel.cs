using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// A multi-task network on one float32 device: a shared trunk of dense layers (<c>trunk.{i}</c>, built by
/// <see cref="Sequential{T}.Mlp"/>) and one dense head per task (<c>heads.{task}</c>, no activation). All
/// parameters live in one flat buffer (<see cref="Parameters"/>): the trunk first (one contiguous block, so a
/// task's trunk gradient can be routed into one row of a [tasks × trunk] buffer), then the heads in task order.
/// <para>Training: <see cref="Training.TrainingStep"/> and <see cref="Training.Trainer"/>. Prediction:
/// <see cref="Predict"/>. Checkpoints: <see cref="Save"/>, <see cref="Load"/>, <see cref="LoadWeights(string, IReadOnlyDictionary{string, string}?, bool)"/>.</para>
/// Not thread-safe: one model is used by one thread at a time.
/// </summary>
public sealed partial class MultiTaskModel : IDisposable
{
    /// <summary>Rows per device pass when predicting or evaluating (bounds the device memory a pass takes).</summary>
    public const int DefaultMaxPredictionBatch = 1024;

    private readonly Dense<float>[] _heads;
    private Tape<float>? _inference;
    private DeviceBuffer<float>? _inferenceInputs;
    private readonly Tensor<float>[] _inferenceOutputs;

    private MultiTaskModel(ModelSpec spec, Backend<float> backend)
    {
        Spec = spec;
        Backend = backend;
        Parameters = new FlatParameters<float>(backend);
        try
        {
            int[] widths = [.. spec.Trunk];
            Trunk = Sequential<float>.Mlp(Parameters, "trunk", spec.Inputs, widths, spec.TrunkActivation,
                spec.TrunkOutputActivation ?? spec.TrunkActivation);
            _heads = new Dense<float>[spec.Heads.Count];
            for (int i = 0; i < _heads.Length; i++)
                _heads[i] = new Dense<float>(Parameters, "heads." + spec.Heads[i].Name, spec.TrunkOutputs, spec.Heads[i].Outputs, Activation.Identity);
            Parameters.Allocate();
        }
        catch
        {
            Parameters.Dispose();
            throw;
        }
        _inferenceOutputs = new Tensor<float>[_heads.Length];
    }

    /// <summary>Builds the model described by <paramref name="spec"/> on <paramref name="backend"/> and initializes
    /// its weights (<see cref="ModelSpec.Initializer"/>, seeded by <see cref="ModelSpec.Seed"/>).</summary>
    public static MultiTaskModel Create(ModelSpec spec, Backend<float> backend)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(backend);
        spec.Validate();
        var model = new MultiTaskModel(spec, backend);
        model.Initialize(spec.Initializer, spec.Seed);
        return model;
    }

    /// <summary>What the model is.</summary>
    public ModelSpec Spec { get; }

    /// <summary>The device it runs on.</summary>
    public Backend<float> Backend { get; }

    /// <summary>Every parameter (trunk first, then the heads in task order) and their gradients.</summary>
    public FlatParameters<float> Parameters { get; }

    /// <summary>The shared trunk.</summary>
    public Sequential<float> Trunk { get; }

    /// <summary>The heads, in task order.</summary>
    public IReadOnlyList<Dense<float>> Heads => _heads;

    /// <summary>Number of tasks.</summary>
    public int TaskCount => _heads.Length;

    /// <summary>Preprocessing and properties stored with the model (set by <see cref="Load"/>; written by <see cref="Save"/>).</summary>
    public ModelMetadata? Metadata { get; set; }

    /// <summary>Rows per device pass in <see cref="Predict"/> and evaluation.</summary>
    public int MaxPredictionBatch { get; init; } = DefaultMaxPredictionBatch;

    /// <summary>The flat range [offset, offset + length) of head <paramref name="task"/>'s weight and bias.</summary>
    public (int Offset, int Length) HeadRange(int task)
    {
        var head = _heads[task];
        int end = head.BiasSlot is { } b ? b.Offset + b.Length : head.WeightSlot.Offset + head.WeightSlot.Length;
        return (head.WeightSlot.Offset, end - head.WeightSlot.Offset);
    }

    /// <summary>(Re)initializes every weight and bias, seeded (layer i of the trunk and head t each get their own stream).</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        Trunk.Initialize(kind, seed);
        for (int i = 0; i < _heads.Length; i++)
            _heads[i].Initialize(kind, seed ^ (0xD1B54A32D192ED03UL * (ulong)(i + 1)));
    }

    /// <summary>
    /// Records the forward pass on <paramref name="tape"/>: the trunk's features, then each head's output
    /// written into <paramref name="outputs"/> (one per task; regression values or logits). Allocates nothing
    /// once the tape's pools have grown.
    /// </summary>
    public Tensor<float> Forward(Tape<float> tape, Tensor<float> inputs, Span<Tensor<float>> outputs)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Cols != Spec.Inputs)
            throw new ArgumentException($"inputs has {inputs.Cols} features per row but the model takes {Spec.Inputs}.", nameof(inputs));
        if (outputs.Length != _heads.Length)
            throw new ArgumentException($"outputs has room for {outputs.Length} tasks but the model has {_heads.Length}.", nameof(outputs));
        var features = Trunk.Forward(tape, inputs);
        for (int i = 0; i < _heads.Length; i++) outputs[i] = _heads[i].Forward(tape, features);
        return features;
    }

    /// <summary>
    /// Predicts every task for <paramref name="rows"/> rows of <paramref name="inputs"/> (row-major
    /// [rows × Spec.Inputs], already preprocessed as the training data was). No gradient is recorded; rows go
    /// through the device <see cref="MaxPredictionBatch"/> at a time.
    /// </summary>
    /// <exception cref="ArgumentException">The input has the wrong width, or holds NaN or ±∞ (the message names the row and column).</exception>
    public Predictions Predict(ReadOnlySpan<float> inputs, int rows)
    {
        Check.Positive(rows, nameof(rows));
        InputValidation.CheckMatrix(inputs, rows, Spec.Inputs, nameof(inputs));
        var tasks = new TaskPrediction[_heads.Length];
        for (int t = 0; t < tasks.Length; t++) tasks[t] = new TaskPrediction(Spec.Heads[t], rows);
        for (int start = 0; start < rows; start += MaxPredictionBatch)
        {
            int count = Math.Min(MaxPredictionBatch, rows - start);
            var chunk = InferenceInputs(count);
            Backend.Upload(inputs.Slice(start * Spec.Inputs, count * Spec.Inputs), chunk);
            var outputs = ForwardNoGrad(chunk, count);
            for (int t = 0; t < tasks.Length; t++)
                Backend.Download(outputs[t].Data, tasks[t].Values.AsSpan(start * tasks[t].Outputs, count * tasks[t].Outputs));
        }
        foreach (var t in tasks) t.FinishClassification();
        return new Predictions(tasks, rows);
    }

    /// <summary>
    /// Per-task loss, RMSE/MAE (regression; in original units when the data carries a scale) and accuracy
    /// (classification) on a labelled set, in head order. Same as <see cref="Metrics.Metrics.Evaluate"/>, without its
    /// class name colliding with the <c>Engine.Metrics</c> namespace in code that lives under <c>Engine</c>.
    /// </summary>
    public IReadOnlyList<Metrics.TaskMetrics> Evaluate(Training.TrainingData data) => Metrics.Metrics.Evaluate(this, data);

    /// <summary>A device window for <paramref name="rows"/> input rows (allocated once, MaxPredictionBatch rows).</summary>
    private View<float> InferenceInputs(int rows)
    {
        _inferenceInputs ??= Backend.Allocate<float>(MaxPredictionBatch * Spec.Inputs);
        return _inferenceInputs.Slice(0, rows * Spec.Inputs);
    }

    /// <summary>
    /// A no-grad forward of <paramref name="rows"/> (≤ MaxPredictionBatch) device rows on the model's inference
    /// tape; the returned head outputs are valid until the next call.
    /// </summary>
    internal Tensor<float>[] ForwardNoGrad(View<float> inputs, int rows)
    {
        _inference ??= new Tape<float>(Backend);
        _inference.Reset();
        using (_inference.NoGrad())
        {
            var x = _inference.Input(inputs, rows, Spec.Inputs, "inputs");
            Forward(_inference, x, _inferenceOutputs);
        }
        return _inferenceOutputs;
    }

    /// <summary>The values of the parameter called <paramref name="name"/> (host copy; tests and tools).</summary>
    public float[] ReadParameter(string name) => Backend.ToArray(Parameters.ValuesOf(Parameters[name]));

    /// <summary>Overwrites the parameter called <paramref name="name"/> (host values of the parameter's length, all finite).</summary>
    public void WriteParameter(string name, ReadOnlySpan<float> values)
    {
        var slot = Parameters[name];
        if (values.Length != slot.Length)
            throw new ArgumentException($"Parameter '{name}' has {slot.Length} elements; {values.Length} values were given.", nameof(values));
        int bad = IndexOfNonFinite(values);
        if (bad >= 0)
            throw new ArgumentException($"Parameter '{name}': element {bad} is {values[bad]}; parameters must be finite.", nameof(values));
        Backend.Upload(values, Parameters.ValuesOf(slot));
    }

    /// <summary>Frees the device memory (parameters, gradients, inference scratch). The backend is the caller's.</summary>
    public void Dispose()
    {
        _inference?.Dispose();
        _inferenceInputs?.Dispose();
        Parameters.Dispose();
    }
}
