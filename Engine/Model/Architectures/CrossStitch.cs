using System.ComponentModel;
using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// Cross-stitch networks (Misra et al., CVPR 2016, §3): one MLP column per task, of widths <see cref="ModelSpec.Trunk"/>,
/// and after every layer i a learnable T×T cross-stitch unit αⁱ mixing the columns: column t reads, at layer i + 1,
/// <c>x̃ₜ = Σₛ αⁱ[t, s]·xₛ</c> (eq. 1, one α per layer, the paper's layer-wise unit; docs/maths.md §17.4). Task t reads
/// row t of the last unit. Initialised as the paper's convex combinations: <see cref="SameTask"/> on the diagonal,
/// (1 − SameTask)/(T − 1) off it (§4.1 ablates (α_S, α_D) and keeps (0.9, 0.1); with T = 1, α = 1).
/// Names: <c>columns.{i}.weight</c> [T, out, in], <c>columns.{i}.bias</c> [T, out] (column t is task t's, in head
/// order), <c>stitch.{i}</c> [T, T] for the layers before the last, <c>stitch.{L−1}.{task}</c> [T] (row t of the last unit).
/// Shared: every column and every unit but the last (each reaches every loss through the mixes; with one layer, the
/// columns only). Task-owned: its row of the last unit. Deviation from the paper: no separate learning-rate scale for α
/// (the paper multiplies it by 10²–10³; here α trains at the model's rate).
/// </summary>
/// <param name="SameTask">α_S, the initial diagonal of every unit, in [0, 1].</param>
[ArchitectureName("cross-stitch")]
public sealed record CrossStitchArchitecture([property: Description("Initial same-task weight α_S of the cross-stitch units, in [0, 1]")] double SameTask = 0.9) : Architecture
{
    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) => new CrossStitch<T>(spec, parameters, SameTask);

    /// <inheritdoc/>
    public override void Validate()
    {
        if (!(SameTask >= 0 && SameTask <= 1)) throw new ArgumentOutOfRangeException(nameof(SameTask), SameTask, "CrossStitchArchitecture.SameTask must be in [0, 1].");
    }
}

/// <summary>
/// The shared part of <see cref="CrossStitchArchitecture"/>: the T columns' layer i is one <see cref="BatchedDense{T}"/>
/// (T experts, task-major [T·B × width]) and each unit is one <see cref="Ops.CrossStitch{T}"/> GEMM. Boundary for the
/// per-task backward: the last column layer's output (task t's row of the last unit runs in t's own pass).
/// </summary>
public sealed class CrossStitch<T> : SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly BatchedDense<T>[] _columns;
    private readonly ILayer<T>[][] _after;     // what follows layer i of every column (layer norm, dropout), over all T·B rows
    private readonly ParameterSlot[] _units;
    private readonly ParameterSlot?[] _lastRows;
    private readonly FlatParameters<T> _parameters;
    private readonly double _sameTask;
    private readonly int _tasks;
    private Tensor<T>?[]? _unitTensors, _rowTensors;

    /// <summary>Registers the columns and the shared units.</summary>
    public CrossStitch(ModelSpec spec, FlatParameters<T> parameters, double sameTask)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(parameters);
        new CrossStitchArchitecture(sameTask).Validate();
        (_parameters, _sameTask, _tasks) = (parameters, sameTask, spec.Heads.Count);
        int layers = spec.Trunk.Count;
        _columns = new BatchedDense<T>[layers];
        _after = new ILayer<T>[layers][];
        _units = new ParameterSlot[layers - 1];
        for (int i = 0; i < layers; i++)
        {
            var activation = i == layers - 1 ? spec.TrunkOutputActivation ?? spec.TrunkActivation : spec.TrunkActivation;
            _columns[i] = new BatchedDense<T>(parameters, $"columns.{i}", _tasks, i == 0 ? spec.SharedInputs : spec.Trunk[i - 1], spec.Trunk[i],
                spec.LayerNorm ? Activation.Identity : activation, sharedInput: i == 0);
            _after[i] = Sequential<T>.After(parameters, $"columns.{i}", spec.Trunk[i], activation, spec.Dropout, spec.LayerNorm, _tasks);
        }
        for (int i = 0; i < layers - 1; i++) _units[i] = parameters.Add($"stitch.{i}", _tasks, _tasks);   // after the columns: layout order
        _lastRows = new ParameterSlot?[_tasks];
    }

    /// <summary>What follows layer i of every column (its layer norm, its dropout; empty without them).</summary>
    public IReadOnlyList<ILayer<T>> AfterColumn(int i) => _after[i];

    /// <summary>Layer i of every column.</summary>
    public IReadOnlyList<BatchedDense<T>> Columns => _columns;

    /// <summary>The unit after layer i (i before the last), [T × T].</summary>
    public Tensor<T> Unit(int i) => (_unitTensors ??= new Tensor<T>?[_units.Length])[i] ??= Tensor<T>.Parameter(_parameters, _units[i]);

    /// <summary>Row t of the last unit, [1 × T].</summary>
    public Tensor<T> LastRow(int task) => (_rowTensors ??= new Tensor<T>?[_tasks])[task] ??= Tensor<T>.Parameter(_parameters, _lastRows[task]!);

    /// <inheritdoc/>
    public override int FeatureWidth(int task) => _columns[^1].Outputs;

    /// <inheritdoc/>
    protected override IEnumerable<Tensor<T>> SharedTensors =>
        Enumerable.Range(0, _columns.Length).SelectMany(i => _columns[i].Parameters.Concat(_after[i].SelectMany(l => l.Parameters)))
            .Concat(Enumerable.Range(0, _units.Length).Select(Unit));

    /// <inheritdoc/>
    public override void RegisterTask(FlatParameters<T> parameters, int task, TaskHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        _lastRows[task] = parameters.Add($"stitch.{_columns.Length - 1}.{head.Name}", _tasks);
    }

    /// <inheritdoc/>
    public override IEnumerable<Tensor<T>> TaskTensors(int task) => [LastRow(task)];

    /// <inheritdoc/>
    public override void Initialize(Initializer kind, ulong seed)
    {
        for (int i = 0; i < _columns.Length; i++)
        {
            _columns[i].Initialize(kind, seed + 0x9E3779B97F4A7C15UL * (ulong)(i + 1));
            foreach (var extra in _after[i]) extra.Initialize(kind, seed);
        }
        var backend = _parameters.Values.Buffer!.Owner;
        double other = _tasks == 1 ? 0 : (1 - _sameTask) / (_tasks - 1);
        var unit = new double[_tasks * _tasks];
        for (int r = 0; r < _tasks; r++) for (int s = 0; s < _tasks; s++) unit[r * _tasks + s] = r == s ? (_tasks == 1 ? 1 : _sameTask) : other;
        for (int i = 0; i < _units.Length; i++) Init.Upload(backend, unit, Unit(i).Data);
        for (int t = 0; t < _tasks; t++) Init.Upload(backend, unit.AsSpan(t * _tasks, _tasks), LastRow(t).Data);
    }

    /// <inheritdoc/>
    public override void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary)
    {
        var h = After(0, tape, _columns[0].Forward(tape, inputs));      // [T·B × H₀], task-major
        for (int i = 1; i < _columns.Length; i++) h = After(i, tape, _columns[i].Forward(tape, tape.CrossStitch(h, Unit(i - 1))));
        for (int t = 0; t < features.Length; t++) features[t] = tape.CrossStitch(h, LastRow(t));
        boundary[0] = h;
    }

    private Tensor<T> After(int layer, Tape<T> tape, Tensor<T> h)
    {
        foreach (var extra in _after[layer]) h = extra.Forward(tape, h);
        return h;
    }
}
