using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// A layer-normalization layer in a stack (<see cref="Ops.LayerNorm{T}"/>, then the stack's activation): parameters
/// <c>{name}.weight</c> (γ, starting at 1) and <c>{name}.bias</c> (β, starting at 0), PyTorch's <c>nn.LayerNorm</c> names,
/// each [features] — or [groups × features] after a batched layer, one row per expert or column. Placed between a dense
/// layer's affine map and its activation (the dense layer then has none): y = f(LN(x·Wᵀ + b)).
/// </summary>
public sealed class LayerNorm<T> : ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private Tensor<T>? _gamma, _beta;

    /// <summary>Registers γ and β in <paramref name="parameters"/>.</summary>
    public LayerNorm(FlatParameters<T> parameters, string name, int features, Activation activation = Activation.Identity, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Check.Positive(features, nameof(features));
        Check.Positive(groups, nameof(groups));
        _parameters = parameters;
        Name = name;
        Inputs = features;
        Groups = groups;
        Activation = activation;
        WeightSlot = groups == 1 ? parameters.Add(name + ".weight", features) : parameters.Add(name + ".weight", groups, features);
        BiasSlot = groups == 1 ? parameters.Add(name + ".bias", features) : parameters.Add(name + ".bias", groups, features);
    }

    /// <inheritdoc/>
    public string Name { get; }
    /// <inheritdoc/>
    public int Inputs { get; }
    /// <inheritdoc/>
    public int Outputs => Inputs;
    /// <summary>Row blocks with their own γ, β (1, or the experts / columns of a batched layer).</summary>
    public int Groups { get; }
    /// <summary>The activation applied after the normalization.</summary>
    public Activation Activation { get; }
    /// <summary>γ's slot.</summary>
    public ParameterSlot WeightSlot { get; }
    /// <summary>β's slot.</summary>
    public ParameterSlot BiasSlot { get; }

    /// <summary>γ.</summary>
    public Tensor<T> Weight => _gamma ??= Tensor<T>.Parameter(_parameters, WeightSlot);
    /// <summary>β.</summary>
    public Tensor<T> Bias => _beta ??= Tensor<T>.Parameter(_parameters, BiasSlot);

    /// <inheritdoc/>
    public IEnumerable<Tensor<T>> Parameters => [Weight, Bias];

    /// <inheritdoc/>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        var y = tape.LayerNorm(x, Weight, Bias, Groups);
        return Activation == Activation.Identity ? y : tape.Activate(y, Activation);
    }

    /// <summary>γ = 1, β = 0 (PyTorch's initialization; nothing random, the seed is not used).</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        var backend = (Backend<T>)_parameters.Values.Buffer!.Owner;
        backend.Fill(Weight.Data, T.One);
        backend.Fill(Bias.Data, T.Zero);
    }
}
