using System.ComponentModel;
using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// DSelect-k (Hazimeh et al., NeurIPS 2021, "DSelect-k: Differentiable Selection in the Mixture of Experts"; docs/maths.md
/// §17.5): MMoE whose per-task gate is a differentiable sparse selection of at most <see cref="TopK"/> of the
/// <see cref="Experts"/> experts. Task t's gate, per example (the paper's example-conditioned gate of its MTL experiments),
/// has k single-expert selectors: selector i reads m = log₂E code logits <c>zᵢ(x) = Z·x + b_z</c> and puts weight
/// <c>r⁽ⁱ⁾ₑ = Πⱼ (bit j of e ? S(zᵢⱼ) : 1 − S(zᵢⱼ))</c> on expert e (S the cubic smooth-step of width γ); the selectors are
/// mixed by <c>α(x) = softmax(W·x + b_w)</c>: <c>q(x) = Σᵢ αᵢ(x)·r⁽ⁱ⁾(x)</c>, and task t reads <c>Σₑ qₑ(x)·fₑ(x)</c>.
/// Once every S(zᵢⱼ) is exactly 0 or 1 each selector is one-hot and q has at most k non-zeros. The entropy
/// regulariser <c>λ·(1/B)·Σ_b Σᵢ H(r⁽ⁱ⁾(x_b))</c> (<see cref="EntropyReg"/> = λ) is added to task t's loss in training.
/// Names: the experts as <see cref="MmoeArchitecture"/>; task-owned <c>gates.{task}.z.weight</c> [k·m, d],
/// <c>gates.{task}.z.bias</c> [k·m] (selector i's bit j at row i·m + j), <c>gates.{task}.w.weight</c> [k, d],
/// <c>gates.{task}.w.bias</c> [k]. Shared: the experts. Deviations from the reference code: E must be a power of 2 (the
/// reference also accepts other E, with an extra penalty on unreachable codes); the entropy is averaged over the batch
/// (the reference sums it, so its λ is ours divided by B); only the per-example gate (no static, task-only variant).
/// </summary>
/// <param name="Experts">Number of experts E, a power of 2 from 2 to 1024.</param>
/// <param name="TopK">Selectors k per gate (the most experts a task's gate keeps), ≥ 1.</param>
/// <param name="SmoothStepGamma">The smooth-step's width γ &gt; 0 (the reference's default 1).</param>
/// <param name="EntropyReg">The entropy regulariser's coefficient λ ≥ 0 (0: none, the reference's default).</param>
[ArchitectureName("dselect-k")]
public sealed record DSelectKArchitecture(
    [property: Description("Number of experts E (a power of 2 for dselect-k)")] int Experts = 4,
    [property: Description("Selectors k of each task's gate (the most experts it keeps)")] int TopK = 2,
    [property: Description("Width γ of the smooth-step")] double SmoothStepGamma = 1.0,
    [property: Description("Coefficient λ of the selectors' entropy regulariser")] double EntropyReg = 0) : Architecture
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore] public override bool HasExperts => true;

    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) => new DSelectK<T>(spec, parameters, this);

    /// <inheritdoc/>
    public override void Validate()
    {
        if (Experts < 2 || Experts > 1 << DSelectReference.MaxBits || !BitOperations.IsPow2(Experts))
            throw new ArgumentOutOfRangeException(nameof(Experts), Experts, $"DSelectKArchitecture.Experts must be a power of 2 from 2 to {1 << DSelectReference.MaxBits}.");
        if (TopK < 1) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "DSelectKArchitecture.TopK must be at least 1.");
        if (!(SmoothStepGamma > 0) || !double.IsFinite(SmoothStepGamma)) throw new ArgumentOutOfRangeException(nameof(SmoothStepGamma), SmoothStepGamma, "DSelectKArchitecture.SmoothStepGamma must be positive and finite.");
        if (!(EntropyReg >= 0) || !double.IsFinite(EntropyReg))
            throw new ArgumentOutOfRangeException(nameof(EntropyReg), EntropyReg, "DSelectKArchitecture.EntropyReg must be non-negative and finite.");
    }

    /// <summary>Code bits m = log₂E.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public int Bits => BitOperations.Log2((uint)Experts);
}

/// <summary>
/// One task's DSelect-k gate: <c>z = Z·x + b_z</c> [B × k·m], <c>s = S(z)</c>, the selectors r = <see cref="Ops.Selectors{T}"/>(s)
/// [k·B × E], <c>α = softmax(W·x + b_w)</c> [B × k], and the gate <c>q = Mixture(r, α)</c> [B × E]. Initialised as the
/// reference code: Z and b_z uniform in ±γ/100 (every S(z) starts near 1/2, every expert near weight 1/E), W and b_w
/// uniform in ±0.05.
/// </summary>
public sealed class DSelectGate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DSelectKArchitecture _architecture;

    /// <summary>Registers <c>{name}.z</c> and <c>{name}.w</c>.</summary>
    public DSelectGate(FlatParameters<T> parameters, string name, int inputs, DSelectKArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        _architecture = architecture;
        Name = name;
        Codes = new Dense<T>(parameters, name + ".z", inputs, architecture.TopK * architecture.Bits);
        Weights = new Dense<T>(parameters, name + ".w", inputs, architecture.TopK);
    }

    /// <summary>The gate's name, <c>gates.{task}</c> (prefix of its parameters' names).</summary>
    public string Name { get; }

    /// <summary>The code logits' layer Z, b_z (k·m outputs).</summary>
    public Dense<T> Codes { get; }

    /// <summary>The selector weights' layer W, b_w (k outputs).</summary>
    public Dense<T> Weights { get; }

    /// <summary>The gate's parameters in layout order.</summary>
    public IEnumerable<Tensor<T>> Parameters => Codes.Parameters.Concat(Weights.Parameters);

    /// <summary>Fills the parameters as the reference code does, seeded.</summary>
    public void Initialize(ulong seed)
    {
        var backend = Codes.Weight.Data.Buffer!.Owner;
        double z = _architecture.SmoothStepGamma / 100;
        int n = 0;
        foreach (var (tensor, bound) in new[] { (Codes.Weight, z), (Codes.Bias!, z), (Weights.Weight, 0.05), (Weights.Bias!, 0.05) })
            Init.Upload(backend, Init.Uniform(tensor.Length, bound, seed ^ (0x9E3779B97F4A7C15UL * (ulong)++n)), tensor.Data);
    }

    /// <summary>Records the gate: returns q [B × E] and the selectors r [k·B × E] (what the entropy regulariser reads).</summary>
    public (Tensor<T> Gate, Tensor<T> Selectors) Forward(Tape<T> tape, Tensor<T> x)
    {
        var selectors = tape.Selectors(tape.SmoothStep(Codes.Forward(tape, x), _architecture.SmoothStepGamma), _architecture.TopK);
        return (tape.Mixture(selectors, tape.Softmax(Weights.Forward(tape, x))), selectors);
    }
}

/// <summary>
/// The shared part of <see cref="DSelectKArchitecture"/>: the experts of <see cref="MixtureOfExperts{T}"/> (one stack of
/// batched layers, shared) and one <see cref="DSelectGate{T}"/> per task (task-owned). Boundary for the per-task backward:
/// the experts' output, as MMoE (each gate reads the input, which needs no gradient); the entropy term reaches only its
/// task's gate.
/// </summary>
public sealed class DSelectK<T> : SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DSelectKArchitecture _architecture;
    private readonly DSelectGate<T>?[] _gates;
    private readonly Tensor<T>?[] _regularizers;
    private readonly int _inputs;

    /// <summary>Registers the experts.</summary>
    public DSelectK(ModelSpec spec, FlatParameters<T> parameters, DSelectKArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(architecture);
        architecture.Validate();
        _architecture = architecture;
        _inputs = spec.SharedInputs;
        ExpertLayers = Sequential<T>.BatchedMlp(parameters, "experts", architecture.Experts, spec.SharedInputs, [.. spec.Trunk], spec.TrunkActivation,
            spec.TrunkOutputActivation ?? spec.TrunkActivation, spec.Dropout);
        _gates = new DSelectGate<T>?[spec.Heads.Count];
        _regularizers = new Tensor<T>?[spec.Heads.Count];
    }

    /// <summary>Layer i of every expert, as a stack of batched layers.</summary>
    public Sequential<T> ExpertLayers { get; }

    /// <summary>E, k, γ and λ of this shared part (what the ONNX exporter reads).</summary>
    public DSelectKArchitecture Architecture => _architecture;

    /// <summary>Task t's gate.</summary>
    public DSelectGate<T> Gate(int task) => _gates[task]!;

    /// <inheritdoc/>
    public override int FeatureWidth(int task) => ExpertLayers.Outputs;

    /// <inheritdoc/>
    protected override IEnumerable<Tensor<T>> SharedTensors => ExpertLayers.Layers.SelectMany(l => l.Parameters);

    /// <inheritdoc/>
    public override void RegisterTask(FlatParameters<T> parameters, int task, TaskHead head) =>
        _gates[task] = new DSelectGate<T>(parameters, "gates." + head.Name, _inputs, _architecture);

    /// <inheritdoc/>
    public override IEnumerable<Tensor<T>> TaskTensors(int task) => _gates[task]!.Parameters;

    /// <inheritdoc/>
    public override void Initialize(Initializer kind, ulong seed)
    {
        ExpertLayers.Initialize(kind, seed);
        for (int t = 0; t < _gates.Length; t++) _gates[t]!.Initialize(seed ^ (0x6A09E667F3BCC909UL * (ulong)(t + 2)));
    }

    /// <inheritdoc/>
    public override Tensor<T>? Regularizer(int task) => _regularizers[task];

    /// <inheritdoc/>
    public override bool HasRegularizers => _architecture.EntropyReg > 0;

    /// <inheritdoc/>
    public override void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary)
    {
        var experts = ExpertLayers.Forward(tape, inputs);            // [E·B × H], expert-major
        for (int t = 0; t < features.Length; t++)
        {
            var (gate, selectors) = _gates[t]!.Forward(tape, inputs);
            features[t] = tape.Mixture(experts, gate);
            // Recorded whenever λ > 0 (also without gradients, so a forward's value does not depend on the tape's mode).
            _regularizers[t] = _architecture.EntropyReg > 0 ? tape.SelectorEntropy(selectors, _architecture.EntropyReg / inputs.Rows) : null;
        }
        boundary[0] = experts;
    }

    /// <summary>Task t's expert weights q(x) for <paramref name="inputs"/> (a no-grad forward on <paramref name="tape"/>,
    /// downloaded: [B × E] row-major; tests and reports).</summary>
    public T[] GateValues(Tape<T> tape, Tensor<T> inputs, int task)
    {
        ArgumentNullException.ThrowIfNull(tape);
        using (tape.NoGrad()) return tape.Backend.ToArray(_gates[task]!.Forward(tape, inputs).Gate.Data);
    }
}
