using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// A multi-task network on one float32 device: a shared part (<see cref="Shared"/>, chosen by
/// <see cref="ModelSpec.Architecture"/>; by default a trunk of dense layers <c>trunk.{i}</c>), then per task an optional
/// tower (<c>towers.{task}.{i}</c>, an MLP of <see cref="ModelSpec.Tower"/> widths) and one output layer
/// (<c>heads.{task}</c>, no activation). All parameters live in one flat buffer (<see cref="Parameters"/>): first the
/// parameters more than one task's loss reaches (<see cref="SharedParameters"/>, one contiguous block, so a task's
/// gradient of them can be routed into one row of a [tasks × shared] buffer), then per task, in task order, the
/// parameters only that task's loss reaches (its part of the shared part, e.g. its gate; its tower; its output layer),
/// one block per task (<see cref="TaskRange"/>).
/// <para>Training: <see cref="Training.TrainingStep"/> and <see cref="Training.Trainer"/>. Prediction:
/// <see cref="Predict"/>. Checkpoints: <see cref="Save(string, ModelMetadata?, Optimizers.OptimizerState{float}?)"/>, <see cref="Load(string, Kernels.Backend{float})"/>, <see cref="LoadWeights(string, IReadOnlyDictionary{string, string}?, bool)"/>.</para>
/// <para>Threads: <see cref="Predict"/> may be called from any number of threads at once (calls run one at a time, so
/// they never share the inference scratch). Training (<see cref="Training.Trainer.Fit"/>) owns the model: a second
/// Fit, or a Predict from another thread, while it runs throws <see cref="InvalidOperationException"/> rather than
/// reading weights being written. Anything else (a <see cref="Training.TrainingStep"/> driven by hand, WriteParameter,
/// LoadWeights) is for one thread at a time. Dispose waits for a running Predict; Predict after Dispose throws
/// <see cref="ObjectDisposedException"/>.</para>
/// </summary>
public sealed partial class MultiTaskModel : IDisposable
{
    /// <summary>Rows per device pass when predicting or evaluating (bounds the device memory a pass takes).</summary>
    public const int DefaultMaxPredictionBatch = 1024;

    private readonly Dense<float>[] _heads;
    private readonly Sequential<float>?[] _towers;
    private readonly (int Offset, int Length)[] _taskRanges;
    private readonly int[]? _graphOrder;            // the task graph's order (products after their factors), or null
    private readonly int[]?[] _towerSources;        // task → the tasks whose predictions its tower reads (§17.7), or null
    private readonly Tensor<float>[]?[] _towerParts; // task → [h, a₁, a₂, …], filled by each Forward (no allocation)
    private readonly Tensor<float>[] _features;
    private readonly int[] _featureTasks;           // the tasks that read the shared part (every task but a product), head order
    private readonly Tensor<float>[] _sharedFeatures; // the shared part's outputs, one per entry of _featureTasks
    private readonly int[] _sharedIndex;            // task → its index among _featureTasks, −1 for a product task
    private readonly Tensor<float>[] _boundary;
    private readonly bool[] _trainedByOthers;       // task → another task's loss reaches its block too (graph): part of SharedParameters
    private readonly int[] _logitBoundaries;        // those tasks, whose outputs follow the shared part's boundary tensors
    private readonly int[] _regularizerBoundaries;  // those of them whose regularisation term (DSelect-k's entropy) is a boundary too
    private Tape<float>? _inference;
    private DeviceBuffer<float>? _inferenceInputs;
    private readonly Tensor<float>[] _inferenceOutputs;
    private readonly object _predictGate = new();   // one Predict at a time; Dispose waits for it
    private int _trainingThread;                    // managed id of the thread in Trainer.Fit, 0 when none
    private bool _disposed;

    private MultiTaskModel(ModelSpec spec, Backend<float> backend)
    {
        Spec = spec;
        Backend = backend;
        Parameters = new FlatParameters<float>(backend);
        int tasks = spec.Heads.Count;
        _heads = new Dense<float>[tasks];
        _towers = new Sequential<float>?[tasks];
        _taskRanges = new (int, int)[tasks];
        _towerSources = new int[]?[tasks];
        _towerParts = new Tensor<float>[]?[tasks];
        for (int t = 0; t < tasks; t++)
            if (spec.Graph is { } g && g.Inputs.TryGetValue(spec.Heads[t].Name, out var sources))
            {
                _towerSources[t] = [.. sources.Select(spec.IndexOf)];
                _towerParts[t] = new Tensor<float>[1 + sources.Length];
            }
        // The shared part serves the tasks with a tower or output layer: a product task (§17.6) reads nothing of it, so the
        // part is built for the others only (an MMoE has no gate for it, cross-stitch no column), numbered in head order.
        _featureTasks = [.. Enumerable.Range(0, tasks).Where(t => !spec.IsProduct(t))];
        _sharedIndex = [.. Enumerable.Range(0, tasks).Select(t => Array.IndexOf(_featureTasks, t))];
        _sharedFeatures = new Tensor<float>[_featureTasks.Length];
        try
        {
            // The embedding tables come first: shared parameters, at the head of the shared block.
            if (spec.EmbeddedColumns.Count > 0)
                Embedding = new InputEmbedding<float>(Parameters, "embeddings", spec.PassThroughInputs, [.. spec.EmbeddedColumns.Select(e => (e.TableRows, e.Dim))]);
            Shared = Architecture.Of(spec).Build(SharedSpec(spec), Parameters);
            int[] tower = [.. spec.TowerWidths];
            // A task that another task's loss also trains (a product's factor, a tower source read undetached: §17.6, §17.7)
            // has parameters more than one loss reaches: its block goes right after the shared part's, so that the two
            // form the one contiguous shared block the gradient combiners act on (the others follow in head order).
            _trainedByOthers = [.. Enumerable.Range(0, tasks).Select(t => !spec.IsProduct(t) && spec.Graph is { } g && g.IsTrainedByOthers(spec.Heads[t].Name))];
            foreach (int t in Enumerable.Range(0, tasks).OrderBy(t => _trainedByOthers[t] ? 0 : 1))
            {
                var head = spec.Heads[t];
                int first = Parameters.Slots.Count;
                if (spec.IsProduct(t)) { _taskRanges[t] = (first, 0); continue; } // no tower, no output layer (§17.6)
                Shared.RegisterTask(Parameters, _sharedIndex[t], head);
                int width = Shared.FeatureWidth(_sharedIndex[t]) + (_towerSources[t] ?? []).Sum(s => spec.Heads[s].Outputs); // [h | a₁ | …] (§17.7)
                if (tower.Length > 0)
                {
                    _towers[t] = Sequential<float>.Mlp(Parameters, "towers." + head.Name, width, tower, spec.TrunkActivation, spec.TrunkActivation, spec.Dropout, spec.LayerNorm);
                    width = tower[^1];
                }
                _heads[t] = new Dense<float>(Parameters, "heads." + head.Name, width, head.Outputs, Activation.Identity);
                _taskRanges[t] = (first, Parameters.Slots.Count - first);
            }
            Parameters.Allocate();
            var trainedByOthers = Enumerable.Range(0, tasks).Where(t => _trainedByOthers[t]).SelectMany(TaskTensors).OrderBy(p => p.Slot!.Offset);
            SharedParameters = Embedding is null && !_trainedByOthers.Any(b => b) ? Shared.SharedParameters
                : new ParameterGroup<float>([.. Embedding?.Tables ?? [], .. Shared.SharedParameters.Parameters, .. trainedByOthers]);
        }
        catch
        {
            Parameters.Dispose();
            throw;
        }
        _graphOrder = spec.Graph?.Order(spec.Heads);
        _features = new Tensor<float>[tasks];
        // With embeddings, the embedded input is one more boundary tensor: a task-owned part that reads the input (an MMoE
        // gate) reaches the shared tables through it, so the stacked per-task backward stops there too.
        // Graphs: the output (logit) of every task another task's loss trains is one more: each task's own walk stops there,
        // and the stacked pass goes on through that task's output layer, tower and gate with the shared part (§17.6).
        // Such a task's regularisation term (DSelect-k's entropy of its gate's selectors) reaches its gate, now shared, other
        // than through its output: the term is one more boundary, so task t's walk leaves its gradient there and the stacked
        // pass carries it (zero in the other tasks' rows) into the selectors.
        _logitBoundaries = [.. Enumerable.Range(0, tasks).Where(t => _trainedByOthers[t])];
        _regularizerBoundaries = Shared.HasRegularizers ? [.. _logitBoundaries.Where(t => _sharedIndex[t] >= 0)] : [];
        _boundary = new Tensor<float>[Shared.BoundaryCount + (Embedding is null ? 0 : 1) + _logitBoundaries.Length + _regularizerBoundaries.Length];
        _inferenceOutputs = new Tensor<float>[tasks];
    }

    /// <summary>The spec the shared part is built from: the tasks that read it (all but the product tasks), no graph. Without
    /// product tasks it is the spec itself, so those models are built exactly as before.</summary>
    internal static ModelSpec SharedSpec(ModelSpec spec) =>
        spec.Graph is null || !spec.Heads.Where((_, t) => spec.IsProduct(t)).Any() ? spec
        : spec with { Heads = [.. spec.Heads.Where((_, t) => !spec.IsProduct(t))], Graph = null };

    /// <summary>The shared part's regularisation term for task <paramref name="task"/> (head order) from the last recorded
    /// forward pass (<see cref="SharedPart{T}.Regularizer"/>), or null; a product task has none.</summary>
    public Tensor<float>? Regularizer(int task) => _sharedIndex[task] < 0 ? null : Shared.Regularizer(_sharedIndex[task]);

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

    /// <summary>Every parameter (the shared block first, then each task's own block in task order) and their gradients.</summary>
    public FlatParameters<float> Parameters { get; }

    /// <summary>The shared part (a <see cref="SharedBottom{T}"/> unless the spec names another architecture).</summary>
    public SharedPart<float> Shared { get; }

    /// <summary>
    /// The parameters more than one task's loss reaches, one contiguous block at the start of the flat buffer: what
    /// gradient combiners act on and what per-task gradients are computed for. Which parameters these are depends on
    /// the architecture (docs/maths.md §17); for a shared bottom, the trunk.
    /// </summary>
    public ParameterGroup<float> SharedParameters { get; }

    /// <summary>The input embedding (<see cref="ModelSpec.Embeddings"/>), or null when the model embeds no column.</summary>
    public InputEmbedding<float>? Embedding { get; }

    /// <summary>The output layers, in task order (null for a product task, which has none: <see cref="ModelSpec.Graph"/>).</summary>
    public IReadOnlyList<Dense<float>> Heads => _heads;

    /// <summary>The towers, in task order (null where a task has none).</summary>
    public IReadOnlyList<Sequential<float>?> Towers => _towers;

    /// <summary>Number of tasks.</summary>
    public int TaskCount => _heads.Length;

    /// <summary>Preprocessing and properties stored with the model (set by <see cref="Load(string, Kernels.Backend{float})"/>; written by <see cref="Save(string, ModelMetadata?, Optimizers.OptimizerState{float}?)"/>).</summary>
    public ModelMetadata? Metadata { get; set; }

    /// <summary>Rows per device pass in <see cref="Predict"/> and evaluation.</summary>
    public int MaxPredictionBatch { get; init; } = DefaultMaxPredictionBatch;

    /// <summary>The flat range [offset, offset + length) of output layer <paramref name="task"/>'s weight and bias.</summary>
    public (int Offset, int Length) HeadRange(int task)
    {
        var head = _heads[task] ?? throw new InvalidOperationException($"Task '{Spec.Heads[task].Name}' is a product of other tasks and has no output layer.");
        int end = head.BiasSlot is { } b ? b.Offset + b.Length : head.WeightSlot.Offset + head.WeightSlot.Length;
        return (head.WeightSlot.Offset, end - head.WeightSlot.Offset);
    }

    /// <summary>
    /// The flat range [offset, offset + length) of every parameter only task <paramref name="task"/>'s loss reaches: its
    /// own part of the shared part (a gate, its experts), its tower and its output layer, contiguous.
    /// </summary>
    public (int Offset, int Length) TaskRange(int task)
    {
        var (first, count) = _taskRanges[task];
        var slots = Parameters.Slots;
        if (count == 0) return (first < slots.Count ? slots[first].Offset : Parameters.Count, 0); // a product task (§17.6)
        var last = slots[first + count - 1];
        return (slots[first].Offset, last.Offset + last.Length - slots[first].Offset);
    }

    /// <summary>Task <paramref name="task"/>'s parameters (its part of the shared part, tower, output layer), any order.</summary>
    private IEnumerable<Tensor<float>> TaskTensors(int task) =>
        Shared.TaskTensors(_sharedIndex[task]).Concat(_towers[task]?.Layers.SelectMany(l => l.Parameters) ?? []).Concat(_heads[task].Parameters);

    /// <summary>True when task <paramref name="task"/>'s block (<see cref="TaskRange"/>) is also trained by another task's loss
    /// (a product's factor, or a tower source read undetached: docs/maths.md §17.6, §17.7), so it lies inside
    /// <see cref="SharedParameters"/>, right after the shared part's parameters.</summary>
    public bool IsTrainedByOthers(int task) => _trainedByOthers[task];

    /// <summary>The names of task <paramref name="task"/>'s own parameters (see <see cref="TaskRange"/>), in layout order.</summary>
    public IEnumerable<string> TaskParameterNames(int task)
    {
        var (first, count) = _taskRanges[task];
        for (int i = first; i < first + count; i++) yield return Parameters.Slots[i].Name;
    }

    /// <summary>(Re)initializes every weight and bias, seeded (the shared part, tower t and output layer t each get their own streams).</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        Embedding?.Initialize(kind, seed ^ 0x5851F42D4C957F2DUL);
        Shared.Initialize(kind, seed);
        for (int i = 0; i < _heads.Length; i++)
        {
            if (_heads[i] is null) continue; // a product task has no parameters
            _towers[i]?.Initialize(kind, seed ^ (0x94D049BB133111EBUL * (ulong)(i + 1)));
            _heads[i].Initialize(kind, seed ^ (0xD1B54A32D192ED03UL * (ulong)(i + 1)));
        }
    }

    /// <summary>
    /// Records the forward pass on <paramref name="tape"/>: the shared part, then each task's tower and output layer,
    /// written into <paramref name="outputs"/> (one per task; regression values or logits). Returns the shared part's
    /// first boundary tensor (for a shared bottom, the trunk's features; all of them: <see cref="Boundary"/>), what
    /// <c>Tape.BackwardPerTask</c> takes. Allocates nothing once the tape's pools have grown.
    /// </summary>
    public Tensor<float> Forward(Tape<float> tape, Tensor<float> inputs, Span<Tensor<float>> outputs)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Cols != Spec.Inputs)
            throw new ArgumentException($"inputs has {inputs.Cols} features per row but the model takes {Spec.Inputs}.", nameof(inputs));
        if (outputs.Length != _heads.Length)
            throw new ArgumentException($"outputs has room for {outputs.Length} tasks but the model has {_heads.Length}.", nameof(outputs));
        if (Embedding is not null)
        {
            inputs = Embedding.Forward(tape, inputs);
            _boundary[Shared.BoundaryCount] = inputs;
        }
        Shared.Forward(tape, inputs, _sharedFeatures, _boundary.AsSpan(0, Shared.BoundaryCount));
        for (int j = 0; j < _featureTasks.Length; j++) _features[_featureTasks[j]] = _sharedFeatures[j];
        // In the graph's order (every task after the tasks it reads), or in head order without a graph.
        for (int k = 0; k < _heads.Length; k++)
        {
            int i = _graphOrder is null ? k : _graphOrder[k];
            if (_heads[i] is null)
            {
                // p_t = Π p_f, each factor's probability: σ(logit) for a task with an output layer, itself for a product.
                Tensor<float>? p = null;
                foreach (var f in Spec.Graph!.Products[Spec.Heads[i].Name])
                {
                    var q = Prediction(tape, Spec.IndexOf(f), outputs);
                    p = p is null ? q : tape.Product(p, q);
                }
                outputs[i] = p!;
                continue;
            }
            var h = _features[i];
            if (_towerParts[i] is { } parts)
            {
                // [h | a₁ | a₂ …]: the tower also reads the predictions of the tasks before it (§17.7), detached if asked.
                var sources = _towerSources[i]!;
                parts[0] = h;
                for (int s = 0; s < sources.Length; s++)
                {
                    var a = Prediction(tape, sources[s], outputs);
                    parts[s + 1] = Spec.Graph!.DetachInputs ? tape.Detach(a) : a;
                }
                h = tape.ConcatColumns(parts);
            }
            if (_towers[i] is { } tower) h = tower.Forward(tape, h);
            outputs[i] = _heads[i].Forward(tape, h);
        }
        int first = _boundary.Length - _logitBoundaries.Length - _regularizerBoundaries.Length;
        for (int j = 0; j < _logitBoundaries.Length; j++) _boundary[first + j] = outputs[_logitBoundaries[j]];
        first += _logitBoundaries.Length;
        for (int j = 0; j < _regularizerBoundaries.Length; j++) _boundary[first + j] = Regularizer(_regularizerBoundaries[j])!;
        return _boundary[0];
    }

    /// <summary>What another task reads of task <paramref name="t"/>'s output: a product's p as it is, a binary or multi-label
    /// task's σ(z), a multi-class task's softmax(z) (its k class probabilities), a regression's value z.</summary>
    private Tensor<float> Prediction(Tape<float> tape, int t, Span<Tensor<float>> outputs) =>
        _heads[t] is null || Spec.Heads[t].Kind == TaskKind.Regression ? outputs[t]
        : Spec.Heads[t].Kind == TaskKind.Classification ? tape.Softmax(outputs[t])
        : tape.Sigmoid(outputs[t]);

    /// <summary>The boundary tensors of the last <see cref="Forward"/> (what <see cref="Tape{T}.BackwardPerTaskThrough"/> takes):
    /// the shared part's (one tensor except for PLE), the embedded input with embeddings, and on a graph the output of every
    /// task that another task's loss trains (<see cref="IsTrainedByOthers"/>), and such a task's regularisation term
    /// (<see cref="SharedPart{T}.HasRegularizers"/>).</summary>
    public ReadOnlySpan<Tensor<float>> Boundary => _boundary;

    /// <summary>
    /// Predicts every task for <paramref name="rows"/> rows of <paramref name="inputs"/> (row-major
    /// [rows × Spec.Inputs], already preprocessed as the training data was). No gradient is recorded; rows go
    /// through the device <see cref="MaxPredictionBatch"/> at a time. Regression values are in the units the model was
    /// trained on, i.e. standardized (<see cref="Predictions.Units"/> is <see cref="PredictionUnits.Standardized"/>); for raw
    /// rows in and original units out use <see cref="PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The input has the wrong width, or holds NaN or ±∞, or finite values so large that a
    /// prediction overflows to NaN or ±∞ (the message names the row and column). Predict never returns a non-finite value.</exception>
    /// <exception cref="InvalidOperationException">Another thread is training the model.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public Predictions Predict(ReadOnlySpan<float> inputs, int rows)
    {
        lock (_predictGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int trainer = Volatile.Read(ref _trainingThread);
            if (trainer != 0 && trainer != Environment.CurrentManagedThreadId)
                throw new InvalidOperationException("The model is being trained on another thread (Trainer.Fit); predict after Fit returns, or on a copy (Save/Load).");
            return PredictExclusive(inputs, rows);
        }
    }

    /// <summary>Marks the model as trained by this thread (<see cref="Training.Trainer.Fit"/>); throws when another Fit runs.</summary>
    internal void BeginTraining()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.CompareExchange(ref _trainingThread, Environment.CurrentManagedThreadId, 0) != 0)
            throw new InvalidOperationException("The model is already being trained (Trainer.Fit on another thread or further up this one); one model trains one run at a time.");
    }

    /// <summary>Ends <see cref="BeginTraining"/>.</summary>
    internal void EndTraining() => Volatile.Write(ref _trainingThread, 0);

    private Predictions PredictExclusive(ReadOnlySpan<float> inputs, int rows)
    {
        Check.Positive(rows, nameof(rows));
        InputValidation.CheckMatrix(inputs, rows, Spec.Inputs, nameof(inputs));
        InputValidation.CheckCategoryIndices(inputs, rows, Spec, nameof(inputs));
        var tasks = new TaskPrediction[_heads.Length];
        for (int t = 0; t < tasks.Length; t++) tasks[t] = new TaskPrediction(Spec.Heads[t], rows, Spec.IsProduct(t));
        for (int start = 0; start < rows; start += MaxPredictionBatch)
        {
            int count = Math.Min(MaxPredictionBatch, rows - start);
            var chunk = InferenceInputs(count);
            Backend.Upload(inputs.Slice(start * Spec.Inputs, count * Spec.Inputs), chunk);
            var outputs = ForwardNoGrad(chunk, count);
            for (int t = 0; t < tasks.Length; t++)
            {
                var values = tasks[t].Values.AsSpan(start * tasks[t].Outputs, count * tasks[t].Outputs);
                Backend.Download(outputs[t].Data, values);
                int bad = IndexOfNonFinite(values);
                if (bad >= 0) throw Overflowed(inputs, start + bad / tasks[t].Outputs, t, values[bad]);
            }
        }
        foreach (var t in tasks) t.FinishClassification();
        return new Predictions(tasks, rows);
    }

    /// <summary>Finite inputs whose output is not (e.g. 3·10³⁸ in a standardized column): names the row and its largest input.</summary>
    private ArgumentException Overflowed(ReadOnlySpan<float> inputs, int row, int task, float output)
    {
        var x = inputs.Slice(row * Spec.Inputs, Spec.Inputs);
        int column = 0;
        for (int j = 1; j < x.Length; j++) if (Math.Abs(x[j]) > Math.Abs(x[column])) column = j;
        return new ArgumentException($"inputs[row {row}]: the prediction of task '{Spec.Heads[task].Name}' is {output} (float32 overflow); " +
            $"the row's largest input is column {column} = {x[column]:G9}. Inputs must be preprocessed as the training data was (e.g. standardized).", "inputs");
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
        lock (_predictGate)
        {
            if (_disposed) return;
            _disposed = true;
            _inference?.Dispose();
            _inferenceInputs?.Dispose();
            Parameters.Dispose();
        }
    }
}
