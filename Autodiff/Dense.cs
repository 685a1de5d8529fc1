using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// A fully connected layer, <c>Y = f(X·Wᵀ + b)</c>, with W [out × in] and b [out] stored in a
/// <see cref="FlatParameters{T}"/> as <c>{name}.weight</c> and <c>{name}.bias</c> (PyTorch's names and
/// layout, so checkpoints interchange). Construct every layer, then call
/// <see cref="FlatParameters{T}.Allocate"/>, then <see cref="Initialize(Initializer, ulong)"/>.
/// </summary>
public sealed class Dense<T> : ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private Tensor<T>? _weight, _bias;

    /// <summary>Registers the layer's parameters in <paramref name="parameters"/>.</summary>
    public Dense(FlatParameters<T> parameters, string name, int inputs, int outputs,
        Activation activation = Activation.Identity, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Check.Positive(inputs, nameof(inputs));
        Check.Positive(outputs, nameof(outputs));
        _parameters = parameters;
        Name = name;
        Inputs = inputs;
        Outputs = outputs;
        Activation = activation;
        WeightSlot = parameters.Add(name + ".weight", outputs, inputs);
        BiasSlot = bias ? parameters.Add(name + ".bias", outputs) : null;
    }

    /// <summary>The layer's name (prefix of its parameter names).</summary>
    public string Name { get; }
    /// <summary>Input features.</summary>
    public int Inputs { get; }
    /// <summary>Output features.</summary>
    public int Outputs { get; }
    /// <summary>The activation fused into the GEMM epilogue.</summary>
    public Activation Activation { get; }
    /// <summary>The weight's slot in the flat buffers.</summary>
    public ParameterSlot WeightSlot { get; }
    /// <summary>The bias's slot, or null for a layer without bias.</summary>
    public ParameterSlot? BiasSlot { get; }

    /// <summary>W [out × in] (available once the flat buffer is allocated).</summary>
    public Tensor<T> Weight => _weight ??= Tensor<T>.Parameter(_parameters, WeightSlot);

    /// <summary>b [1 × out], or null.</summary>
    public Tensor<T>? Bias => BiasSlot is null ? null : _bias ??= Tensor<T>.Parameter(_parameters, BiasSlot);

    /// <summary>The layer's parameters in layout order.</summary>
    public IEnumerable<Tensor<T>> Parameters
    {
        get
        {
            yield return Weight;
            if (Bias is { } b) yield return b;
        }
    }

    /// <summary>Records <c>f(X·Wᵀ + b)</c> on the tape.</summary>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.Linear(x, Weight, Bias, Activation);
    }

    /// <summary>Fills W and b with <paramref name="kind"/>, seeded, with the gain of the layer's activation
    /// (setup time: allocates host arrays).</summary>
    public void Initialize(Initializer kind, ulong seed) => Initialize(kind, seed, null);

    /// <summary>Fills W and b with <paramref name="kind"/>, seeded; the gain is that of the layer's activation
    /// unless given (setup time: allocates host arrays).</summary>
    public void Initialize(Initializer kind, ulong seed, double? gain)
    {
        var backend = _parameters.Values.Buffer!.Owner;
        Init.Upload(backend, Init.Weight(kind, Outputs, Inputs, seed, gain ?? Init.Gain(Activation)), Weight.Data);
        if (Bias is { } b) Init.Upload(backend, Init.Bias(kind, Outputs, Inputs, seed ^ 0xB1A5B1A5B1A5B1A5UL), b.Data);
    }
}
