using System.ComponentModel;
using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// MMoE, the multi-gate mixture of experts (Ma et al., KDD 2018, §3.3): <see cref="Experts"/> expert MLPs of widths
/// <see cref="ModelSpec.Trunk"/> read the input; task k reads <c>fᵏ(x) = Σᵢ gᵏ(x)ᵢ·fᵢ(x)</c> with its own gate
/// <c>gᵏ(x) = softmax(W_gk·x)</c>, W_gk [E × d], no bias (as in the paper). Shared: every expert
/// (<c>experts.{i}.weight</c> [E, out, in], <c>experts.{i}.bias</c> [E, out]). Task-owned: the gate
/// <c>gates.{task}.weight</c> [E, d].
/// </summary>
/// <param name="Experts">Number of experts E (≥ 1).</param>
[ArchitectureName("mmoe")]
public sealed record MmoeArchitecture([property: Description("Number of experts E")] int Experts = 4) : Architecture
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore] public override bool HasExperts => true;

    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) => new MixtureOfExperts<T>(spec, parameters, Experts, sharedGate: false);

    /// <inheritdoc/>
    public override void Validate()
    {
        if (Experts <= 0) throw new ArgumentOutOfRangeException(nameof(Experts), Experts, "MmoeArchitecture.Experts must be positive.");
    }
}

/// <summary>
/// The shared part of MMoE and OMoE: E experts as one stack of <see cref="BatchedDense{T}"/> layers (each layer of all
/// experts is one batched GEMM), then a softmax gate per task (MMoE) or one for all tasks (OMoE) and the gated mixture.
/// <para>Boundary for the per-task backward: MMoE — the experts' output (each task's gate and mixture run in the task's
/// own pass; the gates read the input, which needs no gradient); OMoE — the mixture, which every task reads.</para>
/// </summary>
public sealed class MixtureOfExperts<T> : SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dense<T>?[] _taskGates;
    private readonly Dense<T>? _sharedGate;
    private readonly int _inputs;

    /// <summary>Registers the experts (and, for a shared gate, <c>gate.weight</c>).</summary>
    public MixtureOfExperts(ModelSpec spec, FlatParameters<T> parameters, int experts, bool sharedGate)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Check.Positive(experts, nameof(experts));
        ExpertCount = experts;
        _inputs = spec.SharedInputs;
        ExpertLayers = Sequential<T>.BatchedMlp(parameters, "experts", experts, spec.SharedInputs, [.. spec.Trunk], spec.TrunkActivation,
            spec.TrunkOutputActivation ?? spec.TrunkActivation, spec.Dropout, spec.LayerNorm);
        if (sharedGate) _sharedGate = new Dense<T>(parameters, "gate", spec.SharedInputs, experts, Activation.Identity, bias: false);
        _taskGates = new Dense<T>?[spec.Heads.Count];
    }

    /// <summary>Number of experts.</summary>
    public int ExpertCount { get; }

    /// <summary>Layer i of every expert, as a stack of batched layers.</summary>
    public Sequential<T> ExpertLayers { get; }

    /// <summary>Task t's gate (MMoE), or the gate all tasks share (OMoE).</summary>
    public Dense<T> Gate(int task) => _sharedGate ?? _taskGates[task]!;

    /// <inheritdoc/>
    public override int FeatureWidth(int task) => ExpertLayers.Outputs;

    /// <inheritdoc/>
    protected override IEnumerable<Tensor<T>> SharedTensors =>
        ExpertLayers.Layers.SelectMany(l => l.Parameters).Concat(_sharedGate?.Parameters ?? []);

    /// <inheritdoc/>
    public override void RegisterTask(FlatParameters<T> parameters, int task, TaskHead head)
    {
        if (_sharedGate is null)
            _taskGates[task] = new Dense<T>(parameters, "gates." + head.Name, _inputs, ExpertCount, Activation.Identity, bias: false);
    }

    /// <inheritdoc/>
    public override IEnumerable<Tensor<T>> TaskTensors(int task) => _taskGates[task]?.Parameters ?? [];

    /// <inheritdoc/>
    public override void Initialize(Initializer kind, ulong seed)
    {
        ExpertLayers.Initialize(kind, seed);
        _sharedGate?.Initialize(kind, seed ^ 0x6A09E667F3BCC909UL);
        for (int t = 0; t < _taskGates.Length; t++) _taskGates[t]?.Initialize(kind, seed ^ (0x6A09E667F3BCC909UL * (ulong)(t + 2)));
    }

    /// <inheritdoc/>
    public override void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary)
    {
        var experts = ExpertLayers.Forward(tape, inputs);            // [E·B × H], expert-major
        if (_sharedGate is not null)
        {
            var mixed = tape.Mixture(experts, tape.Softmax(_sharedGate.Forward(tape, inputs)));
            features.Fill(mixed);
            boundary[0] = mixed;
            return;
        }
        for (int t = 0; t < features.Length; t++)
            features[t] = tape.Mixture(experts, tape.Softmax(_taskGates[t]!.Forward(tape, inputs)));
        boundary[0] = experts;
    }
}
