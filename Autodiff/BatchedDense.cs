using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// E dense layers of the same shape side by side — layer i of every expert of a mixture of experts — run as one
/// batched GEMM (<see cref="Ops.BatchedLinear{T}"/>): <c>Yₑ = f(Xₑ·Wₑᵀ + bₑ)</c>. Parameters <c>{name}.weight</c>
/// [E, out, in] and <c>{name}.bias</c> [E, out] (expert e's <c>nn.Linear</c> weight is <c>weight[e]</c>). The first
/// layer of a stack reads one input for every expert (<c>sharedInput</c>); later layers read their own
/// expert's rows of the expert-major [E·batch × in] activation.
/// </summary>
public sealed class BatchedDense<T> : ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private Tensor<T>? _weight, _bias;

    /// <summary>Registers the layer's two parameters.</summary>
    public BatchedDense(FlatParameters<T> parameters, string name, int experts, int inputs, int outputs, Activation activation, bool sharedInput)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Check.Positive(experts, nameof(experts));
        Check.Positive(inputs, nameof(inputs));
        Check.Positive(outputs, nameof(outputs));
        _parameters = parameters;
        Name = name;
        Experts = experts;
        Inputs = inputs;
        Outputs = outputs;
        Activation = activation;
        SharedInput = sharedInput;
        WeightSlot = parameters.Add(name + ".weight", experts, outputs, inputs);
        BiasSlot = parameters.Add(name + ".bias", experts, outputs);
    }

    /// <inheritdoc/>
    public string Name { get; }
    /// <summary>Number of experts E.</summary>
    public int Experts { get; }
    /// <inheritdoc/>
    public int Inputs { get; }
    /// <inheritdoc/>
    public int Outputs { get; }
    /// <summary>The activation fused into the epilogue.</summary>
    public Activation Activation { get; }
    /// <summary>True when every expert reads the same input rows.</summary>
    public bool SharedInput { get; }
    /// <summary>The stacked weights' slot, [E, out, in].</summary>
    public ParameterSlot WeightSlot { get; }
    /// <summary>The stacked biases' slot, [E, out].</summary>
    public ParameterSlot BiasSlot { get; }

    /// <summary>W as [E·out × in].</summary>
    public Tensor<T> Weight => _weight ??= Tensor<T>.Parameter(_parameters, WeightSlot);
    /// <summary>b as [E × out].</summary>
    public Tensor<T> Bias => _bias ??= Tensor<T>.Parameter(_parameters, BiasSlot);

    /// <inheritdoc/>
    public IEnumerable<Tensor<T>> Parameters
    {
        get
        {
            yield return Weight;
            yield return Bias;
        }
    }

    /// <inheritdoc/>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        ArgumentNullException.ThrowIfNull(x);
        int batch = SharedInput ? x.Rows : x.Rows / Experts;
        return tape.BatchedLinear(x, Weight, Bias, Experts, batch, Activation);
    }

    /// <summary>Expert e is initialized as a <see cref="Dense{T}"/> of the same shape with its own seed.</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        var backend = _parameters.Values.Buffer!.Owner;
        int w = Outputs * Inputs;
        for (int e = 0; e < Experts; e++)
        {
            ulong s = seed + 0xA0761D6478BD642FUL * (ulong)(e + 1);
            Init.Upload(backend, Init.Weight(kind, Outputs, Inputs, s, Init.Gain(Activation)), Weight.Data.Slice(e * w, w));
            Init.Upload(backend, Init.Bias(kind, Outputs, Inputs, s ^ 0xB1A5B1A5B1A5B1A5UL), Bias.Data.Slice(e * Outputs, Outputs));
        }
    }
}
