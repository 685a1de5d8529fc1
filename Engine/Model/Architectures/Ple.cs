using System.ComponentModel;
using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// PLE, progressive layered extraction (Tang et al., RecSys 2020, §4.3): <see cref="Levels"/> stacked extraction
/// networks. At level j every task k has <see cref="TaskExperts"/> experts of its own and all tasks have
/// <see cref="Experts"/> shared ones (MLPs of widths <see cref="ModelSpec.Trunk"/>); task k's gate,
/// <c>gᵏʲ = softmax(W_kʲ·qᵏʲ)</c> over [its experts; the shared ones], mixes them from task k's input qᵏʲ, and the
/// output is task k's input at level j + 1; below the last level a shared gate over every expert of the level (all
/// tasks' and the shared ones) mixes the shared input of the next level. Level 0 reads x everywhere. Gates have no bias.
/// <para>Names (<c>j</c> the level, <c>i</c> the layer): <c>levels.{j}.shared.{i}.weight</c> [Eₛ, out, in],
/// <c>levels.{j}.tasks.{task}.{i}.weight</c> [Eₜ, out, in] (and <c>.bias</c> [E, out]),
/// <c>levels.{j}.gates.{task}.weight</c> [Eₜ + Eₛ, in], <c>levels.{j}.shared_gate.weight</c> [T·Eₜ + Eₛ, in].</para>
/// <para>Shared (reached by every task): every level's shared experts and shared gate, the task experts of levels
/// below L − 1 (the shared gate mixes them) and task gates below L − 2 (their output feeds level j + 1's task experts,
/// which are shared). Task k's own block: its gate at level L − 2, its experts and gate at level L − 1.</para>
/// </summary>
/// <param name="Experts">Eₛ ≥ 1.</param>
/// <param name="TaskExperts">Eₜ ≥ 1 per task.</param>
/// <param name="Levels">L ≥ 1 (L = 1 is <see cref="CgcArchitecture"/>).</param>
[ArchitectureName("ple")]
public sealed record PleArchitecture(
    [property: Description("Shared experts Eₛ")] int Experts = 2,
    [property: Description("Experts of each task Eₜ")] int TaskExperts = 1,
    [property: Description("Extraction levels L")] int Levels = 2) : Architecture
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore] public override bool HasExperts => true;

    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) =>
        new ProgressiveLayeredExtraction<T>(spec, parameters, Experts, TaskExperts, Levels);

    /// <inheritdoc/>
    public override void Validate()
    {
        if (Experts <= 0) throw new ArgumentOutOfRangeException(nameof(Experts), Experts, "PleArchitecture.Experts (shared experts) must be positive.");
        if (TaskExperts <= 0) throw new ArgumentOutOfRangeException(nameof(TaskExperts), TaskExperts, "PleArchitecture.TaskExperts must be positive.");
        if (Levels <= 0) throw new ArgumentOutOfRangeException(nameof(Levels), Levels, "PleArchitecture.Levels must be positive.");
    }
}

/// <summary>
/// The shared part of PLE and CGC. Every expert group of a level is one stack of <see cref="BatchedDense{T}"/> layers; a
/// gate is a dense layer without bias, a softmax and a <see cref="Ops.Mixture{T}"/> over the row concatenation of the
/// expert groups it mixes (<see cref="Ops.ConcatRows{T}"/>).
/// </summary>
public sealed class ProgressiveLayeredExtraction<T> : SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ModelSpec _spec;
    private readonly int _shared, _own, _levels, _tasks;
    private readonly Sequential<T>[] _sharedExperts;            // [level]
    private readonly Sequential<T>[,] _taskExperts;             // [level, task]
    private readonly Dense<T>[,] _taskGates;                    // [level, task]
    private readonly Dense<T>?[] _sharedGates;                  // [level], null at the last
    private readonly Tensor<T>[] _taskInputs, _taskExpertOutputs, _concat;

    /// <summary>Registers every shared parameter (see <see cref="PleArchitecture"/>).</summary>
    public ProgressiveLayeredExtraction(ModelSpec spec, FlatParameters<T> parameters, int sharedExperts, int taskExperts, int levels)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _spec = spec;
        (_shared, _own, _levels, _tasks) = (sharedExperts, taskExperts, levels, spec.Heads.Count);
        _sharedExperts = new Sequential<T>[levels];
        _taskExperts = new Sequential<T>[levels, _tasks];
        _taskGates = new Dense<T>[levels, _tasks];
        _sharedGates = new Dense<T>?[levels];
        for (int j = 0; j < levels; j++)
        {
            _sharedExperts[j] = Experts(parameters, $"levels.{j}.shared", sharedExperts, j);
            if (j < levels - 1)
            {
                for (int k = 0; k < _tasks; k++) _taskExperts[j, k] = Experts(parameters, $"levels.{j}.tasks.{spec.Heads[k].Name}", taskExperts, j);
                _sharedGates[j] = new Dense<T>(parameters, $"levels.{j}.shared_gate", InputWidth(j), _tasks * taskExperts + sharedExperts, Activation.Identity, bias: false);
            }
            if (j < levels - 2)
                for (int k = 0; k < _tasks; k++) _taskGates[j, k] = Gate(parameters, j, k);
        }
        _taskInputs = new Tensor<T>[_tasks];
        _taskExpertOutputs = new Tensor<T>[_tasks + 1];
        _concat = new Tensor<T>[2];
    }

    private int InputWidth(int level) => level == 0 ? _spec.SharedInputs : _spec.TrunkOutputs;

    /// <summary>Number of extraction levels L (read by the ONNX exporter, Engine/Export/Architectures/PleOnnx.cs).</summary>
    public int Levels => _levels;

    /// <summary>Level <paramref name="level"/>'s shared experts.</summary>
    public Sequential<T> SharedExperts(int level) => _sharedExperts[level];

    /// <summary>Task <paramref name="task"/>'s experts at level <paramref name="level"/>.</summary>
    public Sequential<T> TaskExperts(int level, int task) => _taskExperts[level, task];

    /// <summary>Task <paramref name="task"/>'s gate at level <paramref name="level"/> (over its experts, then the shared ones).</summary>
    public Dense<T> TaskGate(int level, int task) => _taskGates[level, task];

    /// <summary>The shared gate of level <paramref name="level"/> (over every task's experts, then the shared ones); null at the last level.</summary>
    public Dense<T>? SharedGate(int level) => _sharedGates[level];

    private Sequential<T> Experts(FlatParameters<T> parameters, string name, int count, int level)
    {
        return Sequential<T>.BatchedMlp(parameters, name, count, InputWidth(level), [.. _spec.Trunk], _spec.TrunkActivation,
            _spec.TrunkOutputActivation ?? _spec.TrunkActivation, _spec.Dropout, _spec.LayerNorm);
    }

    private Dense<T> Gate(FlatParameters<T> parameters, int level, int task) =>
        new(parameters, $"levels.{level}.gates.{_spec.Heads[task].Name}", InputWidth(level), _own + _shared, Activation.Identity, bias: false);

    /// <inheritdoc/>
    public override int FeatureWidth(int task) => _spec.TrunkOutputs;

    /// <inheritdoc/>
    public override int BoundaryCount => _levels == 1 ? 1 : _levels == 2 ? 2 + _tasks : 2 + 2 * _tasks;

    /// <inheritdoc/>
    protected override IEnumerable<Tensor<T>> SharedTensors
    {
        get
        {
            for (int j = 0; j < _levels; j++)
            {
                foreach (var p in _sharedExperts[j].Layers.SelectMany(l => l.Parameters)) yield return p;
                if (j < _levels - 1)
                {
                    for (int k = 0; k < _tasks; k++) foreach (var p in _taskExperts[j, k].Layers.SelectMany(l => l.Parameters)) yield return p;
                    yield return _sharedGates[j]!.Weight;
                }
                if (j < _levels - 2) for (int k = 0; k < _tasks; k++) yield return _taskGates[j, k].Weight;
            }
        }
    }

    /// <inheritdoc/>
    public override void RegisterTask(FlatParameters<T> parameters, int task, TaskHead head)
    {
        int last = _levels - 1;
        if (_levels >= 2) _taskGates[last - 1, task] = Gate(parameters, last - 1, task);
        _taskExperts[last, task] = Experts(parameters, $"levels.{last}.tasks.{head.Name}", _own, last);
        _taskGates[last, task] = Gate(parameters, last, task);
    }

    /// <inheritdoc/>
    public override IEnumerable<Tensor<T>> TaskTensors(int task)
    {
        int last = _levels - 1;
        var gates = _levels >= 2 ? [_taskGates[last - 1, task], _taskGates[last, task]] : new[] { _taskGates[last, task] };
        return gates.SelectMany(g => g.Parameters).Concat(_taskExperts[last, task].Layers.SelectMany(l => l.Parameters));
    }

    /// <inheritdoc/>
    public override void Initialize(Initializer kind, ulong seed)
    {
        ulong n = 0;
        ulong Next() => seed ^ (0x9E3779B97F4A7C15UL * ++n);
        for (int j = 0; j < _levels; j++)
        {
            _sharedExperts[j].Initialize(kind, Next());
            _sharedGates[j]?.Initialize(kind, Next());
            for (int k = 0; k < _tasks; k++)
            {
                _taskExperts[j, k].Initialize(kind, Next());
                _taskGates[j, k].Initialize(kind, Next());
            }
        }
    }

    /// <inheritdoc/>
    public override void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary)
    {
        var sharedInput = inputs;
        for (int k = 0; k < _tasks; k++) _taskInputs[k] = inputs;
        int last = _levels - 1, b = 0;
        for (int j = 0; j < _levels; j++)
        {
            var shared = _sharedExperts[j].Forward(tape, sharedInput);               // [Eₛ·B × H]
            if (j >= last - 1) boundary[b++] = shared;
            if (j == last - 1 && j >= 1) for (int k = 0; k < _tasks; k++) boundary[b++] = _taskInputs[k];
            for (int k = 0; k < _tasks; k++)
            {
                _taskExpertOutputs[k] = _taskExperts[j, k].Forward(tape, _taskInputs[k]); // [Eₜ·B × H]
                if (j == last - 1) boundary[b++] = _taskExpertOutputs[k];
            }
            _taskExpertOutputs[_tasks] = shared;
            Tensor<T>? nextShared = null;
            if (j < last)                                                       // the shared gate over every expert
                nextShared = tape.Mixture(tape.ConcatRows(_taskExpertOutputs), tape.Softmax(_sharedGates[j]!.Forward(tape, sharedInput)));
            for (int k = 0; k < _tasks; k++)
            {
                _concat[0] = _taskExpertOutputs[k];
                _concat[1] = shared;
                _taskInputs[k] = tape.Mixture(tape.ConcatRows(_concat), tape.Softmax(_taskGates[j, k].Forward(tape, _taskInputs[k])));
            }
            if (nextShared is not null) sharedInput = nextShared;
        }
        for (int k = 0; k < _tasks; k++) features[k] = _taskInputs[k];
    }
}
