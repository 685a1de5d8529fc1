using Engine.Autodiff;
using Engine.Data;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Optimizers;

namespace Engine.Training;

/// <summary>
/// One training step over a device batch, as a fixed sequence of launches on one stream:
/// <list type="number">
/// <item>forward: trunk, every head, every task loss Lᵢ (masked MSE, L1 or Huber, BCE or softmax cross-entropy: the mean over the rows
/// labelled for task i, with the labelled count nᵢ kept on the device; with sample weights sᵣ the weighted mean
/// Σ sᵣmᵣℓᵣ / Σ sᵣmᵣ, maths §19.11), the losses gathered in a T-vector on the device;</item>
/// <item>task weights λ from the losses (loss-balanced, uncertainty: one tiny kernel) or as they are;</item>
/// <item>backward: for <see cref="CombinationMethod.Sum"/>, ONE backward of Σ λᵢLᵢ (the weights are read on the
/// device by the WeightedSum op). Otherwise each task's UNWEIGHTED Lᵢ is backpropagated through its own head and then
/// all tasks through the trunk at once (<see cref="Tape{T}.BackwardPerTask"/>: stacked upstream gradients, one input-
/// gradient GEMM per layer for all tasks), task i's trunk gradient landing in row i of a [tasks × trunk] buffer and its
/// head gradient scaled by λᵢ in place; then the combiner
/// (projection, PCGrad, MGDA, CAGrad — they apply the weights) writes the trunk gradient, and the Gram matrix
/// feeds the conflict monitor;</item>
/// <item>metrics accumulated on the device (losses, error sums, correct counts);</item>
/// <item>global-norm clipping: norms measured (uncertainty's log-variances sᵢ included), the scale written to the
/// optimizer's control block (stays on the device);</item>
/// <item>the optimizer step (Adam/AdamW/SGD/RMSprop/Adagrad, head parameter groups with their own learning rates); the sᵢ have their own
/// optimizer of the same kind, clipped by the same scale and skipped with the model when the norm is not finite;</item>
/// <item>for a weighting that learns from the batch after the step (<see cref="IReevaluatingWeighting{T}"/>: <c>famo</c> with
/// <c>update=same-batch</c>), the forward pass over the same batch again (same dropout masks, no backward) and its losses
/// handed to it.</item>
/// </list>
/// Once warm (the first step sized the arena and pools), <see cref="Run"/> allocates nothing and never reads the
/// device from the host. Statistics are read between epochs by <see cref="ReadStatistics"/>.
/// Maths and data flow: docs/maths.md §16.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    private readonly MultiTaskModel _model;
    private readonly Backend<float> _backend;
    private readonly Tape<float> _tape;
    private readonly Optimizer<float> _optimizer;
    private readonly GradientClipper<float> _clipper;
    private readonly ITaskWeighting<float> _weighting;
    private readonly ITaskGradientWeighting<float>? _gradientWeighting; // reads the per-task gradients after the combiner (GradNorm)
    private readonly FlatParameters<float>? _extra;        // training-only parameters (uncertainty log-variances)
    private readonly Optimizer<float>? _extraOptimizer;    // updates _extra; clipped and skipped with the model (same norm)
    private readonly IGradientCombiner<float>? _combiner;
    private DeviceBuffer<float>? _upstream;
    private readonly GradientConflictMonitor<float>? _monitor;
    private readonly DeviceBuffer<float>? _taskGradients;  // [T′ × shared]: the tasks with a loss (_lossTasks)
    private readonly DeviceBuffer<float> _taskLosses;      // [tasks]
    private readonly IReevaluatingWeighting<float>? _reevaluating; // learns from the batch's losses after the step (famo same-batch)
    private readonly DeviceBuffer<float>? _lossesAfterStep; // [tasks]: those losses
    private readonly MethodStateGuard _stateGuard;           // the methods' state, restored when a step is skipped
    private readonly DeviceBuffer<float> _taskLabelled;    // [tasks]: labelled values of each task in the batch (maths §19.1)
    private readonly TaskLossWeights _lossWeights;         // class weights and label smoothing of classification tasks (§19.9)
    private readonly DeviceBuffer<float> _normSums;        // [slots + 1]: Σ over steps of ‖gₛ‖², then of ‖g‖²
    private readonly MetricAccumulator _metrics;
    private readonly MetricAccumulator? _stepMetrics;      // data-parallel runs: this step's error sums, reduced in the exchange
    private readonly GradientExchange? _exchange;          // data-parallel runs only: the one all-reduce per step
    private readonly DeviceBuffer<float>? _masses;         // [tasks], count-weighted exchange: each task's weight mass D (§20)
    private readonly bool[] _lossWritesMass;               // task t's loss is a weighted mean Σ w·ℓ / D even without sample weights (§19.9)
    private readonly Tensor<float>[] _outputs, _losses;
    private readonly ParameterGroup<float> _trunk;       // the parameters more than one task's loss reaches
    private readonly (int Offset, int Length)[] _taskRanges; // each task's own parameters (gate, tower, head)
    private readonly double _maxNorm;
    private DeviceDataset? _lastData;
    private GradientConflictReport? _conflictBaseline;
    private long _steps;
    private long _randomStep;                              // steps run since construction: the dropout masks' step (never reset)

    private readonly bool[] _isProduct; // task t's output is a probability (a product of tasks, §17.6), not a logit

    // The tasks the per-task path differentiates: those with a loss of their own (all T unless the graph has --no-loss tasks,
    // §17.6). A loss-free task contributes no row: the combiner, the monitor and the rows see only these T′ tasks.
    private readonly int[] _lossTasks;                     // [T′] head indices, in head order
    private readonly Tensor<float>[] _lossRoots;           // [T′] their losses, gathered from _losses every step
    private readonly DeviceBuffer<float>? _lossTaskWeights; // [T′] their λ, gathered on the device (only when T′ < T)
    private readonly DeviceBuffer<float>? _lossTaskLosses;  // [T′] their Lₜ, what the combiner reads (only when T′ < T)

    /// <summary>
    /// Prepares a step for <paramref name="model"/> and batches of at most <paramref name="maxBatch"/> rows: builds
    /// the optimizer (head parameter groups), clipper, weighting, combiner and their device buffers.
    /// <paramref name="totalSteps"/> sizes a cosine schedule without <see cref="StepOptions.DecaySteps"/>.
    /// </summary>
    /// <para>With <paramref name="communicator"/>, the step is one rank's part of a data-parallel step (maths §20): after
    /// the backward, ONE all-reduce (<see cref="GradientExchange"/>) turns this rank's gradients, losses, labelled counts
    /// and metric sums into the global batch's, and everything after it runs identically on every rank. Unless
    /// <paramref name="everyRowLabelled"/> (the caller checked that every row of the GLOBAL training data carries every
    /// label) and no task has class weights, the step takes the per-task path and weights each task's mean by its weight
    /// mass D (sample weights, class weights: §19.9, §19.11; the labelled count n for a plain masked mean).</para>
    public TrainingStep(MultiTaskModel model, StepOptions options, int maxBatch, long? totalSteps = null, ICommunicator? communicator = null,
        bool everyRowLabelled = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Check.Positive(maxBatch, nameof(maxBatch));
        _model = model;
        _backend = model.Backend;
        Options = options;
        MaxBatch = maxBatch;
        int tasks = model.TaskCount;
        Plan = MethodSelection.Resolve(options, [.. model.Spec.Heads.Select(h => h.Name)]);
        _lossTasks = [.. Enumerable.Range(0, tasks).Where(t => !model.Spec.IsUnsupervised(t))];
        _lossRoots = new Tensor<float>[_lossTasks.Length];
        Validate(model, options, Plan);
        if (options.MaxGradNorm is { } c && (!(c > 0) || double.IsNaN(c)))
            throw new ArgumentOutOfRangeException(nameof(options), c, "StepOptions.MaxGradNorm must be positive (or null for no clipping).");
        _maxNorm = options.MaxGradNorm ?? double.PositiveInfinity;
        for (int t = 0; t < model.TaskCount; t++)
            if (model.Spec.IsProduct(t) && model.Spec.Heads[t].UsesWeightedBinaryCrossEntropy)
                throw new NotSupportedException($"Task '{model.Spec.Heads[t].Name}' is a product task (§17.6, BCE of a probability): it has no positive weights or label smoothing.");
        _lossWritesMass = [.. model.Spec.Heads.Select((h, t) => h.Kind switch
        {
            TaskKind.Regression => false,
            TaskKind.Binary or TaskKind.MultiLabel => !model.Spec.IsProduct(t) && h.UsesWeightedBinaryCrossEntropy, // D = n then, written by §19.10's kernel
            _ => h.UsesWeightedCrossEntropy,                                                                         // D = Σ w_y (§19.9)
        })];
        // Class weights make each rank's mean a Σ w_y-weighted one: the row share would be wrong even with every row labelled.
        if (model.Spec.Heads.Any(h => h.ClassWeights is not null)) everyRowLabelled = false;

        var disposables = new List<IDisposable>();
        T Own<T>(T d) where T : IDisposable { disposables.Add(d); return d; }
        try
        {
            _tape = Own(new Tape<float>(_backend));
            var schedule = CreateSchedule(options, totalSteps);
            Plateau = schedule as PlateauSchedule;
            _optimizer = Own(CreateOptimizer(_backend, model.Parameters, options, HeadGroups(model), schedule));
            _clipper = Own(new GradientClipper<float>(_backend, model.Parameters, _optimizer.Control));
            _taskLosses = Own(_backend.Allocate<float>(tasks));
            _lossWeights = Own(new TaskLossWeights(_backend, model.Spec.Heads));
            _trunk = model.SharedParameters;

            // The methods, built from the registry with what they declared they need.
            if ((Plan.Needs & MethodNeeds.LearnedParameters) != 0) _extra = Own(new FlatParameters<float>(_backend));
            // A method sees the tasks `heads` (all of them by default) and their loss vector.
            MethodContext Context(MethodArguments arguments, int[]? heads = null, View<float> losses = default)
            {
                var seen = (heads ?? [.. Enumerable.Range(0, tasks)]).Select(t => model.Spec.Heads[t]).ToArray();
                return new()
                {
                    Backend = _backend, TaskNames = [.. seen.Select(h => h.Name)], LossWeights = [.. seen.Select(h => h.LossWeight)],
                    Seed = options.CombinationSeed, Arguments = arguments, Losses = losses.IsEmpty ? _taskLosses.View : losses,
                    LearnedParameters = _extra, SharedLength = _trunk.Length,
                };
            }
            _weighting = Own(Plan.Weighting.CreateWeighting!(Context(Plan.WeightingArguments)));
            if (_weighting is IReevaluatingWeighting<float> { ReevaluatesBatch: true } reevaluating)
            {
                if (communicator is not null)
                    throw new NotSupportedException($"'{Plan.Weighting.Name}' re-evaluates the batch after the step, which a data-parallel run would have to exchange a second time; not built (famo: use update=next-batch).");
                _reevaluating = reevaluating;
                _lossesAfterStep = Own(_backend.Allocate<float>(tasks));
            }
            _gradientWeighting = _weighting as ITaskGradientWeighting<float>;
            UsesTaskGradients = (Plan.Needs & MethodNeeds.SharedGradients) != 0 || options.TaskGradientDiagnostics
                || (communicator is not null && (WeightsFromBatchLosses(Plan) || !everyRowLabelled)); // global losses, per-task counts: maths §20
            if (UsesTaskGradients && model.Spec.Graph is not null)
                CheckPerTaskGraph(model, methodNeedsRows: (Plan.Needs & MethodNeeds.SharedGradients) != 0 || options.TaskGradientDiagnostics,
                    _gradientWeighting is not null ? Plan.Weighting.Name : null);
            UsesRepresentationGradients = (Plan.Needs & MethodNeeds.RepresentationGradients) != 0;
            if (UsesRepresentationGradients)
            {
                // MGDA-UB (docs/maths.md §18.16): the per-task gradients of the one shared representation Z, combined, then
                // the shared part backpropagated once; needs a single boundary tensor every head reads.
                string name = Plan.Gradient.Name;
                if (communicator is not null)
                    throw new NotSupportedException($"'{name}' combines the representation gradients of the local batch; a data-parallel run would have to exchange them (not built).");
                if (model.Spec.Graph is not null)
                    throw new NotSupportedException($"'{name}': ordered tasks (ModelSpec.Graph, --task-product) are not built for representation-gradient methods.");
                if (model.Boundary.Length != 1)
                    throw new NotSupportedException($"'{name}' needs a shared part with a single representation Z that every head reads (a shared bottom, " +
                        $"without input embeddings); this model's tasks reach the shared parameters through {model.Boundary.Length} tensors. Use 'mgda' on the shared parameters' gradients.");
                if (options.TaskGradientDiagnostics)
                    throw new NotSupportedException($"'{name}' computes no per-task gradients of the shared parameters, so task-gradient diagnostics are not available with it.");
                var combiner = Plan.Gradient.CreateGradient!(Context(Plan.GradientArguments));
                if (combiner is IDisposable d) Own(d);
                _combiner = combiner;
            }
            if (UsesTaskGradients && !UsesRepresentationGradients)
            {
                // The combiner, the monitor and the rows span the T′ tasks with a loss (§17.6): a --no-loss task has no row.
                int rows = _lossTasks.Length;
                if (rows < tasks)
                {
                    _lossTaskWeights = Own(_backend.Allocate<float>(rows));
                    _lossTaskLosses = Own(_backend.Allocate<float>(rows));
                }
                var combiner = Plan.Gradient.CreateGradient!(rows < tasks
                    ? Context(Plan.GradientArguments, _lossTasks, _lossTaskLosses!.View)   // their names, λ and the T′ losses gathered each step
                    : Context(Plan.GradientArguments));
                if (combiner is IDisposable d) Own(d);
                _combiner = combiner;
                _monitor = Own(new GradientConflictMonitor<float>(_backend, rows));
                _taskGradients = Own(_backend.Allocate<float>(checked(rows * _trunk.Length)));
            }
            if (_extra is not null)
            {
                // Learned method parameters (uncertainty's sᵢ): an optimizer of the model's kind without weight decay; their
                // gradients join the global norm, and their optimizer gets the model's scale and skip flag.
                _extra.Allocate();
                (_weighting as ILearnedWeighting)?.InitializeParameters();
                (_combiner as ILearnedWeighting)?.InitializeParameters();
                _extraOptimizer = Own(CreateOptimizer(_backend, _extra, options with { WeightDecay = 0 }, [], schedule));
                _clipper.Include(_extra, _extraOptimizer.Control);
            }
            _taskLabelled = Own(_backend.Allocate<float>(tasks));
            // A task with no label in a batch: its own parameters (gate, tower, head) are not stepped (parameters and
            // moments untouched), decided on the device.
            for (int t = 0; t < tasks; t++)
            {
                var (offset, length) = model.TaskRange(t);
                // A product's factor, or a task whose prediction another tower reads, is also trained by that task's loss
                // (ESMM's CVR tower has no label at all): not gated.
                if (length == 0 || model.Spec.Graph is { } graph && graph.IsTrainedByOthers(model.Spec.Heads[t].Name)) continue;
                _optimizer.GateRange(offset, length, _taskLabelled.Slice(t, 1));
            }
            _stateGuard = Own(new MethodStateGuard(_backend, MethodStateBuffers().Select(b => b.Values), Float64MethodStateBuffers().Select(b => b.Values),
                new object?[] { _weighting, _combiner }.OfType<IStateSavedByItsPass<float>>()));
            _normSums = Own(_backend.Allocate<float>(model.Parameters.Slots.Count + 1));
            _metrics = Own(new MetricAccumulator(_backend, model.Spec.Heads));
            if (communicator is not null)
            {
                if (options.TrackMetrics) _stepMetrics = Own(new MetricAccumulator(_backend, model.Spec.Heads));
                if (!everyRowLabelled) _masses = Own(_backend.Allocate<float>(tasks));
                _exchange = Own(CreateExchange(communicator, countWeighted: !everyRowLabelled));
            }
        }
        catch
        {
            for (int i = disposables.Count - 1; i >= 0; i--) disposables[i].Dispose();
            throw;
        }
        _outputs = new Tensor<float>[tasks];
        _losses = new Tensor<float>[tasks];
        _taskRanges = new (int, int)[tasks];
        _isProduct = [.. Enumerable.Range(0, tasks).Select(model.Spec.IsProduct)];
        for (int t = 0; t < tasks; t++) _taskRanges[t] = model.TaskRange(t);
        ResetStatistics();
    }

    /// <summary>Per-task gradients on ordered tasks (docs/maths.md §17.6): the tasks another task's loss trains are in the shared
    /// block (<see cref="MultiTaskModel.IsTrainedByOthers"/>) and their outputs are boundary tensors, so the stacked pass runs on
    /// through their output layers, towers and gates. A task with no loss of its own (--no-loss) has no row: the combiner runs
    /// over the tasks with a loss, and its block, in the shared block, is trained by the losses that reach it. What the stacked
    /// pass cannot do is refused here, naming why.
    /// <paramref name="methodNeedsRows"/>: the method (or diagnostics) reads the rows; false when only a data-parallel
    /// exchange put the weighted sum on the per-task path (labels may be missing, or λ reads the losses: maths §20). The rows
    /// are all-reduced like any model's: the exchange covers the whole shared block, the factors' blocks included (§20).
    /// <paramref name="gradientWeighting"/>: the name of a weighting that reads the per-task rows (GradNorm), or null.</summary>
    private static void CheckPerTaskGraph(MultiTaskModel model, bool methodNeedsRows, string? gradientWeighting)
    {
        var spec = model.Spec;
        string prefix = "Ordered tasks (ModelSpec.Graph) with per-task gradients (" + (methodNeedsRows
            ? "a gradient method other than sum, or task-gradient diagnostics): "
            : "the weighted sum on a data-parallel run's per-task path, taken when labels may be missing or the weights read the batch losses, maths §20): ");
        var unsupervised = Enumerable.Range(0, spec.Heads.Count).Where(spec.IsUnsupervised).Select(t => spec.Heads[t].Name).ToArray();
        if (unsupervised.Length == spec.Heads.Count)
            throw new NotSupportedException(prefix + "no task has a loss of its own, so there is no per-task gradient to combine.");
        if (unsupervised.Length > 0 && gradientWeighting is not null)
            throw new NotSupportedException(prefix + $"the '{gradientWeighting}' weighting reads one per-task row for every task, but {string.Join(", ", unsupervised.Select(u => $"'{u}'"))} " +
                "has no loss of its own (--no-loss) and so no row. Use a weighting that does not read the per-task gradients.");
        for (int t = 0; t < spec.Heads.Count; t++)
        {
            string name = spec.Heads[t].Name;
            if (!model.IsTrainedByOthers(t)) continue;
            // Its DSelect-k gate is in the shared block: the stacked pass runs through it (smooth-step, selectors, and its entropy
            // term, a boundary tensor that carries the term into its own row). A task without a loss has no row to carry it.
            if (model.Shared.HasRegularizers && spec.IsUnsupervised(t))
                throw new NotSupportedException(prefix + $"'{name}' has no loss of its own (--no-loss), so no row of per-task gradients, but its DSelect-k gate " +
                    "has an entropy term (DSelectKArchitecture.EntropyReg > 0, --entropy-reg) that would need one. Set EntropyReg = 0, give the task its labels, or " +
                    (methodNeedsRows ? "train with the weighted sum of losses." : "use the Σλₜ Lₜ path (every row labelled, static weights)."));
        }
    }

    /// <summary>The loss weighting and gradient method the step runs, with their options (from the registry).</summary>
    public MethodPlan Plan { get; }

    /// <summary>The model trained.</summary>
    public MultiTaskModel Model => _model;

    /// <summary>The options.</summary>
    public StepOptions Options { get; }

    /// <summary>The most rows a batch may have.</summary>
    public int MaxBatch { get; }

    /// <summary>True when the step computes per-task trunk gradients (any combination but Sum, or diagnostics on).</summary>
    public bool UsesTaskGradients { get; }

    /// <summary>True when the gradient method works on the per-task gradients of the shared representation Z
    /// (<see cref="MethodNeeds.RepresentationGradients"/>, MGDA-UB): one walk per head down to Z, the method's
    /// combination of the T Z-gradients, and one backward of the shared part.</summary>
    public bool UsesRepresentationGradients { get; }

    /// <summary>The optimizer of the model's parameters (state: <see cref="IOptimizer{T}.SaveState"/>; the step's whole
    /// state, learned method parameters included: <see cref="SaveState"/>).</summary>
    public IOptimizer<float> Optimizer => _optimizer;

    /// <summary>The reduce-on-plateau schedule when <see cref="StepOptions.Schedule"/> is <see cref="ScheduleKind.Plateau"/>
    /// (the trainer feeds it one value per epoch), else null.</summary>
    public PlateauSchedule? Plateau { get; }

    /// <summary>Prefix of a learned method parameter's values in <see cref="SaveState"/>: <c>param.{name}</c>, e.g.
    /// <c>param.uncertainty.log_variance</c> (a checkpoint stores it as <c>optimizer.param.uncertainty.log_variance</c>).</summary>
    public const string LearnedValuesBuffer = "param";

    /// <summary>
    /// Everything needed to resume training exactly: the model optimizer's state (<see cref="Optimizer"/>) and, when the
    /// method learns parameters of its own (uncertainty's log-variances sᵢ, IMTL-L's scales), their values
    /// (<c>param.{name}</c>) and their optimizer's buffers (<c>exp_avg.{name}</c>, …). Their optimizer moves in lockstep
    /// with the model's (same clip scale, same skip flag, same schedule), so the step counters are the model optimizer's.
    /// A method with state of its own (<see cref="IMethodState{T}"/>: FAMO's logits and their Adam moments) adds it as
    /// <c>method.{name}</c> (float64 state, as GradVac's targets, among <see cref="OptimizerState{T}.Float64Tensors"/>).
    /// </summary>
    public OptimizerState<float> SaveState()
    {
        var model = WithPlateauState(_optimizer.SaveState());
        var methodState = MethodStateBuffers();
        var float64State = Float64MethodStateBuffers();
        if (_extra is null && methodState.Count == 0 && float64State.Count == 0) return model;
        var tensors = new Dictionary<string, float[]>(model.Tensors, StringComparer.Ordinal);
        if (_extra is not null)
        {
            foreach (var (name, values) in _extraOptimizer!.SaveState().Tensors) tensors.Add(name, values);
            foreach (var slot in _extra.Slots) tensors.Add($"{LearnedValuesBuffer}.{slot.Name}", _backend.ToArray(_extra.ValuesOf(slot)));
        }
        foreach (var (name, view) in methodState) tensors.Add($"{MethodStateBuffer}.{name}", _backend.ToArray(view));
        var float64 = float64State.ToDictionary(b => $"{MethodStateBuffer}.{b.Name}", b => _backend.ToArray(b.Values), StringComparer.Ordinal);
        return new OptimizerState<float>(tensors, model.Scalars, float64);
    }

    /// <summary>With <see cref="Plateau"/>, the optimizer's state plus the plateau's (<see cref="PlateauSchedule.StateNames"/>: best,
    /// bad epochs, cooldown left, reductions) among the scalars; otherwise the state as it is.</summary>
    private OptimizerState<float> WithPlateauState(OptimizerState<float> state)
    {
        if (Plateau is null) return state;
        var scalars = new Dictionary<string, double>(state.Scalars, StringComparer.Ordinal);
        foreach (var (name, value) in Plateau.SaveState()) scalars.Add(name, value);
        return new OptimizerState<float>(state.Tensors, scalars);
    }

    /// <summary>Checks and removes the plateau's scalars from <paramref name="state"/> and restores <see cref="Plateau"/> from them.
    /// A state saved with a plateau schedule resumed without one, or the other way round, is refused: the learning-rate
    /// sequence could not continue as it would have.</summary>
    private void TakePlateauState(ref OptimizerState<float> state)
    {
        var scalars = state.Scalars;
        bool saved = PlateauSchedule.StateNames.Any(scalars.ContainsKey);
        if (Plateau is null)
        {
            if (saved)
                throw new ArgumentException("The optimizer state holds a reduce-on-plateau schedule's state, but this run's schedule is not plateau: " +
                    "resume with the same schedule (--schedule plateau).", nameof(state));
            return;
        }
        foreach (string name in PlateauSchedule.StateNames)
            if (!scalars.ContainsKey(name))
                throw new ArgumentException($"The optimizer state has no '{name}': it was saved by a run without the plateau schedule, " +
                    "so this run's plateau cannot resume exactly.", nameof(state));
        Plateau.Restore(scalars[PlateauSchedule.BestName], scalars[PlateauSchedule.BadEpochsName], scalars[PlateauSchedule.CooldownLeftName],
            scalars[PlateauSchedule.ReductionsName]);
        state = new OptimizerState<float>(state.Tensors, scalars.Where(e => !PlateauSchedule.StateNames.Contains(e.Key))
            .ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
    }

    /// <summary>Prefix of a method's own state in <see cref="SaveState"/> (<see cref="IMethodState{T}"/>): <c>method.{name}</c>,
    /// e.g. <c>method.famo.logits</c> (a checkpoint stores it as <c>optimizer.method.famo.logits</c>).</summary>
    public const string MethodStateBuffer = "method";

    /// <summary>The named state views of the step's methods (empty when they keep none).</summary>
    private List<(string Name, View<float> Values)> MethodStateBuffers()
    {
        var all = new List<(string, View<float>)>();
        if (_weighting is IMethodState<float> w) all.AddRange(w.StateBuffers);
        if (_combiner is IMethodState<float> c) all.AddRange(c.StateBuffers);
        return all;
    }

    /// <summary>The named float64 state views of the step's methods (<see cref="IMethodState{T}.Float64StateBuffers"/>).</summary>
    private List<(string Name, View<double> Values)> Float64MethodStateBuffers()
    {
        var all = new List<(string, View<double>)>();
        if (_weighting is IMethodState<float> w) all.AddRange(w.Float64StateBuffers);
        if (_combiner is IMethodState<float> c) all.AddRange(c.Float64StateBuffers);
        return all;
    }

    /// <summary>Restores what <see cref="SaveState"/> saved. Throws <see cref="ArgumentException"/> naming the tensor when
    /// the state lacks one this step needs (e.g. a state saved by a run whose method learned nothing, resumed with
    /// <c>uncertainty</c>) or holds one it does not know.</summary>
    public void LoadState(OptimizerState<float> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var plateau = Plateau?.SaveState().ToArray();
        var float64Values = TakeFloat64MethodState(state);   // before the rest: the steps below rebuild the state without them
        TakePlateauState(ref state);
        List<(View<float> View, float[] Values)> methodValues;
        try
        {
            methodValues = TakeMethodState(ref state);
            if (_extra is null) _optimizer.LoadState(state);
            else LoadLearned(state);
        }
        catch when (plateau is not null)
        {
            Plateau!.Restore(plateau[0].Value, plateau[1].Value, plateau[2].Value, plateau[3].Value); // nothing changed
            throw;
        }
        foreach (var (view, values) in methodValues) _backend.Upload<float>(values, view);
        foreach (var (view, values) in float64Values) _backend.Upload<double>(values, view);
    }

    /// <summary>The float64 entries of <paramref name="state"/> (<see cref="OptimizerState{T}.Float64Tensors"/>): each the step's
    /// methods keep must be there with its length and finite; any other is refused by name. Returns what to upload.</summary>
    private List<(View<double> View, double[] Values)> TakeFloat64MethodState(OptimizerState<float> state)
    {
        var own = new Dictionary<string, double[]>(state.Float64Tensors, StringComparer.Ordinal);
        var uploads = new List<(View<double>, double[])>();
        foreach (var (name, view) in Float64MethodStateBuffers())
        {
            string key = $"{MethodStateBuffer}.{name}";
            if (!own.Remove(key, out var v))
                throw new ArgumentException($"The optimizer state has no '{key}': it was saved by a run whose method kept no '{name}', so this run cannot resume it exactly.", nameof(state));
            if (v.Length != view.Length)
                throw new ArgumentException($"Optimizer state tensor '{key}' has {v.Length} elements but '{name}' has {view.Length}.", nameof(state));
            if (!v.All(double.IsFinite))
                throw new ArgumentException($"Optimizer state tensor '{key}' holds a value that is not finite.", nameof(state));
            uploads.Add((view, v));
        }
        if (own.Count > 0)
            throw new ArgumentException($"Unknown optimizer state tensor '{own.Keys.First()}': this run's methods ({Plan}) keep no such state.", nameof(state));
        return uploads;
    }

    /// <summary>Checks and removes the <c>method.*</c> entries from <paramref name="state"/>: each the step's methods keep must be
    /// there with its length and finite; any other is refused by name. Returns what to upload once the rest has loaded.</summary>
    private List<(View<float> View, float[] Values)> TakeMethodState(ref OptimizerState<float> state)
    {
        string prefix = MethodStateBuffer + ".";
        var own = state.Tensors.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        var uploads = new List<(View<float>, float[])>();
        foreach (var (name, view) in MethodStateBuffers())
        {
            uploads.Add((view, TakeChecked(own, prefix + name, name, view.Length, "kept")));
        }
        if (own.Count > 0)
            throw new ArgumentException($"Unknown optimizer state tensor '{own.Keys.First()}': this run's methods ({Plan}) keep no such state.", nameof(state));
        if (uploads.Count > 0)
            state = new OptimizerState<float>(state.Tensors.Where(e => !e.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal), state.Scalars);
        return uploads;
    }

    /// <summary>Removes <paramref name="key"/> from <paramref name="own"/>: there, of <paramref name="length"/> elements, finite;
    /// otherwise an <see cref="ArgumentException"/> naming the tensor (the state came from a run whose method
    /// <paramref name="verb"/> no <paramref name="name"/>, or is damaged).</summary>
    private static float[] TakeChecked(Dictionary<string, float[]> own, string key, string name, long length, string verb)
    {
        if (!own.Remove(key, out var v))
            throw new ArgumentException($"The optimizer state has no '{key}': it was saved by a run whose method {verb} no '{name}', so this run cannot resume it exactly.", "state");
        if (v.Length != length)
            throw new ArgumentException($"Optimizer state tensor '{key}' has {v.Length} elements but '{name}' has {length}.", "state");
        if (!v.All(float.IsFinite))
            throw new ArgumentException($"Optimizer state tensor '{key}' holds a value that is not finite.", "state");
        return v;
    }

    /// <summary>The model optimizer's state and the learned method parameters' values and optimizer state.</summary>
    private void LoadLearned(OptimizerState<float> state)
    {
        var learned = _extra!.Slots.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        // Names are {buffer}.{parameter}; buffer names (exp_avg, momentum_buffer, param, …) hold no dot.
        bool IsLearned(string name) => learned.Contains(name[(name.IndexOf('.') + 1)..]);
        var own = state.Tensors.Where(e => IsLearned(e.Key)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var slot in _extra!.Slots)
        {
            values.Add(slot.Name, TakeChecked(own, $"{LearnedValuesBuffer}.{slot.Name}", slot.Name, slot.Length, "learned"));
        }
        var modelState = new OptimizerState<float>(state.Tensors.Where(e => !IsLearned(e.Key)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal), state.Scalars);
        var extraState = new OptimizerState<float>(own, state.Scalars);
        _optimizer.LoadState(modelState);
        _extraOptimizer!.LoadState(extraState);
        foreach (var slot in _extra!.Slots) _backend.Upload<float>(values[slot.Name], _extra!.ValuesOf(slot));
    }

    /// <summary>The task weighting (weights on the device).</summary>
    public ITaskWeighting<float> Weighting => _weighting;

    /// <summary>The last step's task losses Lᵢ (T, on the device).</summary>
    public View<float> TaskLosses => _taskLosses.View;

    /// <summary>
    /// The last step's labelled counts nᵢ (T, on the device, float): how many values of task i's targets in the batch carry
    /// a label (rows for a classification or a one-column regression). Task i's loss Lᵢ is its mean over those nᵢ values;
    /// when nᵢ = 0, Lᵢ = 0 and ∇Lᵢ = 0 exactly (never NaN), and the optimizer leaves head i untouched. Combiners and
    /// weightings that need to know can read this view on the device (contract: docs/maths.md §19.1).
    /// </summary>
    public View<float> TaskLabelled => _taskLabelled.View;

    /// <summary>The last step's per-task gradients of the shared block [T′ × shared parameters], one row per task with a loss of its
    /// own in head order (every task unless the graph has --no-loss tasks, which have no row: §17.6); per-task path only, empty otherwise.</summary>
    public View<float> TaskGradients => _taskGradients?.View ?? default;

    /// <summary>The last step's combiner (per-task path only).</summary>
    public IGradientCombiner<float>? Combiner => _combiner;

    /// <summary>
    /// One step on rows [<paramref name="firstRow"/>, firstRow + <paramref name="rows"/>) of <paramref name="data"/>
    /// (uploaded for this model). No allocation and no host read once warm.
    /// </summary>
    /// <param name="data">The device data set.</param>
    /// <param name="firstRow">The batch's first row.</param>
    /// <param name="rows">The batch's rows (on this rank).</param>
    /// <param name="globalRows">Data-parallel runs: the rows of this step summed over all ranks (this rank's share
    /// rows/globalRows weighs its gradients and losses); 0 = <paramref name="rows"/>.</param>
    public void Run(DeviceDataset data, int firstRow, int rows, int globalRows = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!ReferenceEquals(data.Model, _model)) throw new ArgumentException("The data was uploaded for another model.", nameof(data));
        if (rows > MaxBatch) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"The step was prepared for batches of at most {MaxBatch} rows.");
        if (data.IsWeighted && !ReferenceEquals(data, _lastData)) CheckSampleWeights();
        _lastData = data;
        int tasks = _model.TaskCount;
        var gradients = _model.Parameters.Gradients;

        // 1. Forward: features, head outputs, task losses (gathered into one T-vector on the device).
        long randomStep = _randomStep++;
        _backend.Fill(gradients, 0f);
        if (_extra is not null) _backend.Fill(_extra.Gradients, 0f);
        Forward(data, firstRow, rows, randomStep, _taskLosses.View);

        // The losses into the epoch's sums (data-parallel: the global ones, after the exchange). Data-parallel: this
        // step's error sums into the scratch accumulator now, so that they travel in the step's one buffer.
        if (_exchange is null && data.IsWeighted) _metrics.AddWeightedLosses(_taskLosses.View, _lossWeights.WeightSums, _taskLabelled.View, rows);
        else if (_exchange is null) _metrics.AddLosses(_taskLosses.View, _taskLabelled.View, rows);
        else if (_stepMetrics is not null)
        {
            _stepMetrics.ResetErrorSums();
            AddMetrics(_stepMetrics, data, firstRow, rows);
        }

        // The methods' own state as it was, put back at the end if this step is skipped (a non-finite gradient).
        if (_stateGuard.Guards) _stateGuard.Save();

        // 2. Task weights (device-side schemes update from this batch's losses; epoch-level ones do nothing here).
        // Data-parallel per-task path: after the exchange instead, from the global batch's losses.
        if (_exchange is null || !UsesTaskGradients) _weighting.Update(_taskLosses.View);
        var weights = _weighting.Weights;

        // 3. Backward.
        if (UsesRepresentationGradients)
        {
            // ∂Lᵢ/∂Z of each UNWEIGHTED Lᵢ through its own head [T × Z]; heads' own gradients as in the per-task path.
            var z = _model.Boundary[0];
            var perTask = _tape.BackwardToRepresentation(_losses, z);
            for (int t = 0; t < tasks; t++)
            {
                var own = gradients.Slice(_taskRanges[t].Offset, _taskRanges[t].Length);
                _backend.ScaleByScalar(own, weights.Slice(t, 1), own, accumulate: false); // task t's own parameters: λₜ∇Lₜ
            }
            if (_upstream is null || _upstream.Length < z.Length)                  // once, at the largest batch
            {
                _upstream?.Dispose();
                _upstream = _backend.Allocate<float>(z.Length);
            }
            var upstream = _upstream.View.Slice(0, z.Length);
            _combiner!.Combine(perTask, tasks, weights, upstream);       // Σ aᵢ ∂Lᵢ/∂Z
            _tape.Backward(z, upstream);                                  // the shared part, once
        }
        else if (!UsesTaskGradients)
        {
            var total = _tape.WeightedSum(_tape.Input(weights, 1, tasks, "task_weights"), _losses);
            _tape.Backward(total);
            if (_exchange is not null) Exchange(rows, globalRows, data.IsWeighted); // data-parallel: THE all-reduce (maths §20)
        }
        else
        {
            var perTask = _taskGradients!.View;
            // ∇ of each UNWEIGHTED Lᵢ of the T′ tasks with a loss: through its own head, then all of them through the trunk at
            // once (rows overwritten). A --no-loss task has no row (its block, shared, gets the rows of the losses reaching it).
            for (int k = 0; k < _lossRoots.Length; k++) _lossRoots[k] = _losses[_lossTasks[k]];
            _tape.BackwardPerTaskThrough(_lossRoots, _model.Boundary, _trunk, perTask);
            if (_exchange is not null)                                     // data-parallel: THE all-reduce (maths §20)
            {
                Exchange(rows, globalRows, data.IsWeighted);
                _weighting.Update(_taskLosses.View);
            }
            // GradNorm: the next step's weights from these (global) gradients and losses, this step's stay in `weights`;
            // ExcessMTL: this step's weights (`weights` is its buffer) from them.
            _gradientWeighting?.ObserveTaskGradients(perTask, _trunk.Length, _taskLosses.View);
            for (int t = 0; t < tasks; t++)
            {
                var own = gradients.Slice(_taskRanges[t].Offset, _taskRanges[t].Length);
                _backend.ScaleByScalar(own, weights.Slice(t, 1), own, accumulate: false); // task t's own parameters: λₜ∇Lₜ
            }
            var rowWeights = weights;
            if (_lossTaskWeights is not null)                              // the T′ tasks' λ and Lₜ beside their rows
            {
                for (int k = 0; k < _lossTasks.Length; k++)
                {
                    _backend.Copy(weights.Slice(_lossTasks[k], 1), _lossTaskWeights.Slice(k, 1));
                    _backend.Copy(_taskLosses.Slice(_lossTasks[k], 1), _lossTaskLosses!.Slice(k, 1));
                }
                rowWeights = _lossTaskWeights.View;
            }
            _combiner!.Combine(perTask, _lossTasks.Length, rowWeights, gradients.Slice(_trunk.Offset, _trunk.Length));
            if (_combiner is ITaskGramCombiner<float> gram) _monitor!.Observe(gram.Gram);   // the raw rows' Gram, formed by the method
            else _monitor!.ObserveGradients(perTask);
        }

        // 4. Metrics on the device (data-parallel: added from the exchange).
        if (Options.TrackMetrics && _exchange is null) AddMetrics(_metrics, data, firstRow, rows);

        // 5. Clip (norms measured, scale written to the control block), 6. optimizer step.
        _clipper.Clip(_maxNorm);
        _backend.Axpy(1f, _clipper.SumsOfSquares, _normSums.View);
        _optimizer.Step();
        _extraOptimizer?.Step();

        // 7. A weighting that learns from the losses after the step (famo, update=same-batch): the batch again, same masks.
        if (_reevaluating is not null)
        {
            Forward(data, firstRow, rows, randomStep, _lossesAfterStep!.View);
            _reevaluating.AfterStep(_lossesAfterStep.View);
        }
        if (_stateGuard.Guards) _stateGuard.RestoreIfSkipped(_optimizer.Control.View);
        _steps++;
    }

    /// <summary>Sample weights (maths §19.11) train every task kind (each loss has a row-weighted kernel: MSE, L1, Huber,
    /// softmax cross-entropy with or without class weights and smoothing, BCE with or without positive weights, a product's
    /// BCE of probabilities); a data-parallel run weighs each rank's means by their weight sums D (maths §20), which a
    /// row-share exchange (built for every row labelled, unweighted) cannot: refused rather than trained with the wrong mean.</summary>
    private void CheckSampleWeights()
    {
        if (_exchange is { CountWeighted: false })
            throw new NotSupportedException("Sample-weighted data in a data-parallel step built with everyRowLabelled: true (the row-share exchange): " +
                "the ranks' means must be weighted by their weight sums D = Σ sᵣmᵣ (maths §19.11, §20); build the step with everyRowLabelled: false.");
    }

    /// <summary>The forward pass over the batch (dropout masks of <paramref name="randomStep"/>) and every task loss, the
    /// losses gathered into <paramref name="lossVector"/> (T, on the device) and kept on the tape in <c>_losses</c>.</summary>
    private void Forward(DeviceDataset data, int firstRow, int rows, long randomStep, View<float> lossVector)
    {
        var heads = _model.Spec.Heads;
        _tape.Reset();
        _tape.Training = true;                             // dropout drops (masks of (spec seed, step, layer, element))
        _tape.RandomSeed = _model.Spec.Seed;
        _tape.RandomStep = randomStep;
        var x = _tape.Input(data.Inputs(firstRow, rows), rows, _model.Spec.Inputs, "inputs");
        _model.Forward(_tape, x, _outputs);
        for (int t = 0; t < heads.Count; t++)
        {
            var labelled = _taskLabelled.Slice(t, 1); // masked losses: mean over the labelled rows, nᵢ written here
            var weights = data.SampleWeights(firstRow, rows); // empty when unweighted; else the weighted means of §19.11
            _losses[t] = heads[t].Kind switch
            {
                TaskKind.Regression => _lossWeights.RecordRegression(_tape, t, _outputs[t], _tape.Input(data.Targets(t, firstRow, rows), rows, heads[t].Outputs, "targets"), labelled, weights),
                TaskKind.Binary when _isProduct[t] => _lossWeights.RecordProduct(_tape, t, _outputs[t], new Labels(data.Labels(t, firstRow, rows)), labelled, weights), // §19.7
                TaskKind.Binary or TaskKind.MultiLabel => _lossWeights.RecordBinary(_tape, t, _outputs[t], new Labels(data.Labels(t, firstRow, rows)), labelled, weights), // §19.3 or §19.10
                _ => _lossWeights.Record(_tape, t, _outputs[t], new Labels(data.Labels(t, firstRow, rows)), labelled, weights),          // §19.1 or §19.9
            };
            _backend.Copy(_losses[t].Data, lossVector.Slice(t, 1));
            if (_model.Regularizer(t) is { } regularizer) _losses[t] = _tape.Add(_losses[t], regularizer); // e.g. DSelect-k's entropy (§17.5)
        }
    }

    /// <summary>Error sums and correct counts of this batch into <paramref name="metrics"/>, weighted by the rows' sample
    /// weights when the data has them (maths §19.11: the epoch's RMSE, MAE and accuracy are then the weighted ones).</summary>
    private void AddMetrics(MetricAccumulator metrics, DeviceDataset data, int firstRow, int rows)
    {
        var heads = _model.Spec.Heads;
        var weights = data.SampleWeights(firstRow, rows);   // empty when unweighted
        for (int t = 0; t < heads.Count; t++)
            if (heads[t].Kind == TaskKind.Regression)
                metrics.AddRegression(t, _outputs[t].Data, data.Targets(t, firstRow, rows), rows, _tape.Arena.Take(3 * _outputs[t].Length), weights);
            else if (heads[t].Kind is TaskKind.Binary or TaskKind.MultiLabel)
                metrics.AddBinary(t, _outputs[t].Data, data.Labels(t, firstRow, rows), _isProduct[t] ? _tape.Arena.Take(_outputs[t].Length) : default, weights);
            else
                metrics.AddClassification(t, _outputs[t].Data, data.Labels(t, firstRow, rows), rows, weights);
    }

    /// <summary>THE all-reduce of a data-parallel step, then the global losses, counts and error sums into the epoch's sums.
    /// Count-weighted: first each task's weight mass D⁽ʳ⁾ into <c>_masses</c> (device copies): what its loss divided by,
    /// the weighted losses' D (sample weights, class weights) or the count n of a plain masked mean.</summary>
    private void Exchange(int rows, int globalRows, bool sampleWeighted)
    {
        if (globalRows == 0) globalRows = rows;
        if (_masses is not null)
        {
            _backend.Copy(_taskLabelled.View, _masses.View);
            for (int t = 0; t < _model.TaskCount; t++)
                if (sampleWeighted || _lossWritesMass[t]) _backend.Copy(_lossWeights.WeightSums.Slice(t, 1), _masses.Slice(t, 1));
        }
        _exchange!.Run(rows, globalRows);
        if (sampleWeighted) _metrics.AddWeightedLosses(_taskLosses.View, _masses!.View, _taskLabelled.View, globalRows);
        else _metrics.AddLosses(_taskLosses.View, _taskLabelled.View, globalRows);
        if (_stepMetrics is not null) _metrics.AddErrorSums(_stepMetrics.ErrorSums, weighted: sampleWeighted);
    }

    /// <summary>True when the data-parallel exchange weights each task's means by its weight mass D (labels may be missing,
    /// sample or class weights; D = n for a plain masked mean); false when it weights by the row share (every row labelled,
    /// no weights) or there is no exchange.</summary>
    public bool CountWeightedExchange => _exchange?.CountWeighted ?? false;

    /// <summary>Floats the data-parallel exchange all-reduces per step (0 without a communicator).</summary>
    public int ExchangedFloats => _exchange?.Length ?? 0;

    /// <summary>Zeroes the accumulated statistics (the trainer calls it at the start of every epoch).</summary>
    public void ResetStatistics()
    {
        _metrics.Reset();
        _backend.Fill(_normSums.View, 0f);
        _steps = 0;
        if (_monitor is not null) _conflictBaseline = _monitor.Report();
    }

    /// <summary>Downloads what the steps since <see cref="ResetStatistics"/> accumulated (host reads: call between epochs).</summary>
    public StepStatistics ReadStatistics()
    {
        var tasks = _lastData is null
            ? _metrics.Read(new double[]?[_model.TaskCount], Options.TrackMetrics)
            : _metrics.Read(Evaluator.Scales(_lastData), Options.TrackMetrics);   // data-parallel: already global (reduced per step)
        var sums = _backend.ToArray(_normSums.View);
        double steps = Math.Max(_steps, 1);
        var slots = _model.Parameters.Slots;
        var norms = new (string, double)[slots.Count];
        for (int s = 0; s < slots.Count; s++) norms[s] = (slots[s].Name, Math.Sqrt(sums[s] / steps));
        double[,]? cosines = null;
        int[,]? conflicts = null;
        if (_monitor is not null)
        {
            var report = _monitor.Report();
            var mean = report.MeanCosinesSince(_conflictBaseline); // the epoch's mean, not its last step
            int n = report.Tasks;                                  // T′: the tasks with a loss
            // T × T in head order; a --no-loss task has no gradient of its own: NaN cosines and no conflicts in its row and column.
            int all = _model.TaskCount;
            cosines = new double[all, all];
            conflicts = new int[all, all];
            for (int i = 0; i < all; i++)
                for (int j = 0; j < all; j++) cosines[i, j] = double.NaN;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    var (a, b) = (_lossTasks[i], _lossTasks[j]);
                    cosines[a, b] = mean[i * n + j];
                    conflicts[a, b] = report.Conflicts[i * n + j] - (_conflictBaseline?.Conflicts[i * n + j] ?? 0);
                }
        }
        var weights = Array.ConvertAll(_backend.ToArray(_weighting.Weights), w => (double)w);
        return new StepStatistics(_steps, _metrics.Rows, tasks, Math.Sqrt(sums[^1] / steps), norms, cosines, conflicts, weights,
            _optimizer.Control.ReadSkippedSteps(), _optimizer.CurrentLearningRate());
    }

    /// <summary>Lets epoch-level weightings (accuracy-based, DWA) update from the epoch's mean task losses and accuracies
    /// (T each, head order; accuracies of regression tasks are ignored).</summary>
    public void EndEpoch(ReadOnlySpan<double> losses, ReadOnlySpan<double> accuracies) => _weighting.EndEpoch(losses, accuracies);

    /// <summary>Frees every device buffer the step owns (not the model's).</summary>
    public void Dispose()
    {
        _exchange?.Dispose();
        _masses?.Dispose();
        _stepMetrics?.Dispose();
        _metrics.Dispose();
        _normSums.Dispose();
        _taskLosses.Dispose();
        _lossesAfterStep?.Dispose();
        _taskLabelled.Dispose();
        _taskGradients?.Dispose();
        _lossTaskWeights?.Dispose();
        _lossTaskLosses?.Dispose();
        _monitor?.Dispose();
        (_combiner as IDisposable)?.Dispose();
        _upstream?.Dispose();
        _extraOptimizer?.Dispose();
        _weighting.Dispose();
        _extra?.Dispose();
        _clipper.Dispose();
        _optimizer.Dispose();
        _tape.Dispose();
    }

    /// <summary>Weightings whose λ depend on the batch's losses (not only on parameters or epoch statistics): on a
    /// data-parallel run they need the global losses, so the step takes the per-task path and updates λ after the exchange.
    /// Today: a weighting that reads the step's losses and has no learned parameters of its own (loss-balanced).</summary>
    private static bool WeightsFromBatchLosses(MethodPlan plan) =>
        (plan.Weighting.Needs & MethodNeeds.Losses) != 0 && (plan.Weighting.Needs & MethodNeeds.LearnedParameters) == 0;

    /// <summary>The exchange's parts: what this rank's rows determine (maths §20), in buffer order:
    /// [T′ × S per-task shared gradients (the T′ tasks with a loss) | each task's own gradients | T losses | error sums | T labelled counts | T weight
    /// masses D (count-weighted: what the task rows are weighted by)] on the per-task path, [∇Σλᵢ Lᵢ | ∂/∂sᵢ | T losses | error sums | T counts] on the Σλᵢ Lᵢ path (row-share only).</summary>
    private GradientExchange CreateExchange(ICommunicator communicator, bool countWeighted)
    {
        var gradients = _model.Parameters.Gradients;
        int tasks = _model.TaskCount;
        var parts = new List<ExchangePart>();
        if (UsesTaskGradients)
        {
            if (_lossTasks.Length == tasks) parts.Add(ExchangePart.PerTask(_taskGradients!.View, tasks)); // [T × shared]
            else                                                                            // [T′ × shared]: row k is task _lossTasks[k]'s
                for (int k = 0; k < _lossTasks.Length; k++)
                    parts.Add(ExchangePart.TaskMean(_taskGradients!.View.Slice(k * _trunk.Length, _trunk.Length), _lossTasks[k]));
            long covered = _trunk.Length;
            for (int t = 0; t < tasks; t++)
            {
                if (_model.IsTrainedByOthers(t)) continue;                                  // a factor's block: inside the shared rows (§17.6)
                var (offset, length) = _model.TaskRange(t);
                parts.Add(ExchangePart.TaskMean(gradients.Slice(offset, length), t));      // task t's own gradients
                covered += length;
            }
            if (covered != gradients.Length)   // every parameter is shared or owned by one task (MultiTaskModel's layout)
                throw new InvalidOperationException($"The shared block and the task blocks cover {covered} of {gradients.Length} parameters.");
            // the sᵢ gradients are computed after the exchange, from the global losses
        }
        else
        {
            parts.Add(ExchangePart.RowMean(gradients));                                    // ∇ Σ λᵢLᵢ, every parameter
            if (_extra is not null) parts.Add(ExchangePart.RowMean(_extra.Gradients));     // uncertainty: ∂/∂sᵢ, linear in Lᵢ
        }
        parts.Add(ExchangePart.PerTask(_taskLosses.View, tasks));
        if (_stepMetrics is not null) parts.Add(ExchangePart.Sum(_stepMetrics.ErrorSums));
        return new GradientExchange(_backend, communicator, parts, _taskLabelled.View, countWeighted, countWeighted ? _masses!.View : default);
    }

    private static void Validate(MultiTaskModel model, StepOptions o, MethodPlan plan)
    {
        if (!Enum.IsDefined(o.Optimizer)) throw new ArgumentOutOfRangeException(nameof(o.Optimizer), o.Optimizer, "Unknown optimizer.");
        if (!Enum.IsDefined(o.Schedule)) throw new ArgumentOutOfRangeException(nameof(o.Schedule), o.Schedule, "Unknown schedule.");
        if ((plan.Needs & MethodNeeds.EpochAccuracies) == 0) return;
        string source = o.Method is null ? $"StepOptions.Weighting = {o.Weighting}" : $"StepOptions.Method = \"{o.Method}\"";
        if (model.Spec.Heads.FirstOrDefault(h => h.Kind == TaskKind.Regression) is { } r)
            throw new ArgumentException($"{source}: '{plan.Weighting.Name}' weighting needs every task to be a classification, but '{r.Name}' is a regression.", nameof(o.Weighting));
        if (!o.TrackMetrics) // the accuracies it weights by would all read 0
            throw new ArgumentException($"{source} needs the training accuracies: set StepOptions.TrackMetrics = true.", nameof(o.TrackMetrics));
    }

    private static IReadOnlyList<ParameterGroup> HeadGroups(MultiTaskModel model)
    {
        var groups = new List<ParameterGroup>();
        for (int t = 0; t < model.TaskCount; t++)
        {
            var spec = model.Spec.Heads[t];
            if (spec.LearningRate is null && spec.WeightDecay is null) continue;
            string[] names = [.. model.TaskParameterNames(t)];   // its gate, tower and output layer
            groups.Add(new ParameterGroup("heads." + spec.Name, names) { LearningRate = spec.LearningRate, WeightDecay = spec.WeightDecay });
        }
        return groups;
    }

    private static ILearningRateSchedule? CreateSchedule(StepOptions o, long? totalSteps) => o.Schedule switch
    {
        ScheduleKind.Constant => o.WarmupSteps > 0 ? new ConstantSchedule { WarmupSteps = o.WarmupSteps } : null,
        ScheduleKind.Step => new StepSchedule(o.ScheduleStepSize, o.ScheduleGamma) { WarmupSteps = o.WarmupSteps },
        ScheduleKind.Exponential => new ExponentialSchedule(o.ScheduleGamma) { WarmupSteps = o.WarmupSteps },
        ScheduleKind.Plateau => new PlateauSchedule(o.ScheduleGamma, o.PlateauPatience, o.PlateauThreshold, o.PlateauCooldown, o.MinLearningRate) { WarmupSteps = o.WarmupSteps },
        ScheduleKind.Cosine => new CosineSchedule(o.DecaySteps ?? (int)Math.Max(1, Math.Min(int.MaxValue, (totalSteps
            ?? throw new ArgumentException("A cosine schedule needs StepOptions.DecaySteps (or a trainer that knows the number of steps).", nameof(o.DecaySteps)))
            - o.WarmupSteps)), o.MinLearningRate) { WarmupSteps = o.WarmupSteps },
        _ => throw new ArgumentOutOfRangeException(nameof(o.Schedule), o.Schedule, "Unknown schedule."),
    };

    private static Optimizer<float> CreateOptimizer(Backend<float> backend, FlatParameters<float> parameters, StepOptions o,
        IReadOnlyList<ParameterGroup> groups, ILearningRateSchedule? schedule) => o.Optimizer switch
    {
        OptimizerKind.Adam or OptimizerKind.AdamW => new Adam<float>(backend, parameters, new AdamOptions
        {
            LearningRate = o.LearningRate, Beta1 = o.Beta1, Beta2 = o.Beta2, Epsilon = o.Epsilon ?? 1e-8, WeightDecay = o.WeightDecay,
            Decoupled = o.Optimizer == OptimizerKind.AdamW, AmsGrad = o.AmsGrad, BiasCorrection = o.BiasCorrection,
            Groups = groups, Schedule = schedule,
        }),
        OptimizerKind.Sgd => new Sgd<float>(backend, parameters, new SgdOptions
        {
            LearningRate = o.LearningRate, Momentum = o.Momentum, Dampening = o.Dampening, Nesterov = o.Nesterov,
            WeightDecay = o.WeightDecay, Groups = groups, Schedule = schedule,
        }),
        OptimizerKind.RmsProp => new RmsProp<float>(backend, parameters, new RmsPropOptions
        {
            LearningRate = o.LearningRate, Alpha = o.Alpha, Epsilon = o.Epsilon ?? 1e-8, WeightDecay = o.WeightDecay,
            Momentum = o.Momentum, Centered = o.Centered, Groups = groups, Schedule = schedule,
        }),
        OptimizerKind.Adagrad => new Adagrad<float>(backend, parameters, new AdagradOptions
        {
            LearningRate = o.LearningRate, LearningRateDecay = o.LearningRateDecay, WeightDecay = o.WeightDecay,
            InitialAccumulatorValue = o.InitialAccumulatorValue, Epsilon = o.Epsilon ?? 1e-10, Groups = groups, Schedule = schedule,
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(o.Optimizer), o.Optimizer, "Unknown optimizer."),
    };
}
