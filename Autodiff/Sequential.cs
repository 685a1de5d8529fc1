using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// Layers applied one after another (<see cref="ILayer{T}"/>; an MLP is a stack of <see cref="Dense{T}"/>): the shared
/// trunk of a multi-task model, an expert, a task's tower. Its
/// parameters, registered consecutively, form one <see cref="ParameterGroup{T}"/>, so a task's gradient
/// of the whole trunk can be routed into one row of a per-task buffer.
/// </summary>
public sealed class Sequential<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ILayer<T>[] _layers;
    private ParameterGroup<T>? _group;

    /// <summary>Chains the given layers (each one's inputs must equal the previous one's outputs).</summary>
    public Sequential(params IEnumerable<ILayer<T>> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _layers = [.. layers];
        if (_layers.Length == 0) throw new ArgumentException("A sequential stack needs at least one layer.", nameof(layers));
        for (int i = 1; i < _layers.Length; i++)
            if (_layers[i].Inputs != _layers[i - 1].Outputs)
                throw new ArgumentException($"Layer '{_layers[i].Name}' takes {_layers[i].Inputs} features but '{_layers[i - 1].Name}' produces {_layers[i - 1].Outputs}.", nameof(layers));
    }

    /// <summary>
    /// A multilayer perceptron named <paramref name="name"/>: layers <c>{name}.0</c>, <c>{name}.1</c>, … of the
    /// given widths; every layer uses <paramref name="hidden"/> except the last, which uses <paramref name="last"/>.
    /// Each dense layer may be followed by what <see cref="After"/> gives: with <paramref name="layerNorm"/> a
    /// <see cref="LayerNorm{T}"/> <c>{name}.{i}.norm</c> between its affine map and its activation, and with
    /// <paramref name="dropout"/> p &gt; 0 a <see cref="Dropout{T}"/> <c>{name}.{i}.dropout</c> after its activation.
    /// </summary>
    public static Sequential<T> Mlp(FlatParameters<T> parameters, string name, int inputs, ReadOnlySpan<int> widths,
        Activation hidden = Activation.Relu, Activation last = Activation.Relu, double dropout = 0, bool layerNorm = false)
    {
        if (widths.IsEmpty) throw new ArgumentException("An MLP needs at least one layer width.", nameof(widths));
        var layers = new List<ILayer<T>>(widths.Length);
        for (int i = 0; i < widths.Length; i++)
        {
            var activation = i == widths.Length - 1 ? last : hidden;
            layers.Add(new Dense<T>(parameters, $"{name}.{i}", i == 0 ? inputs : widths[i - 1], widths[i], layerNorm ? Activation.Identity : activation));
            layers.AddRange(After(parameters, $"{name}.{i}", widths[i], activation, dropout, layerNorm));
        }
        return new Sequential<T>(layers);
    }

    /// <summary>
    /// <see cref="Mlp"/> for <paramref name="experts"/> experts at once: layer i is one <see cref="BatchedDense{T}"/>
    /// (<c>{name}.{i}</c>, the first reading one input shared by every expert), each followed by what <see cref="After"/>
    /// gives over all experts' rows (a layer norm with one γ, β row per expert).
    /// </summary>
    public static Sequential<T> BatchedMlp(FlatParameters<T> parameters, string name, int experts, int inputs, ReadOnlySpan<int> widths,
        Activation hidden, Activation last, double dropout = 0, bool layerNorm = false)
    {
        if (widths.IsEmpty) throw new ArgumentException("An MLP needs at least one layer width.", nameof(widths));
        var layers = new List<ILayer<T>>(widths.Length);
        for (int i = 0; i < widths.Length; i++)
        {
            var activation = i == widths.Length - 1 ? last : hidden;
            layers.Add(new BatchedDense<T>(parameters, $"{name}.{i}", experts, i == 0 ? inputs : widths[i - 1], widths[i],
                layerNorm ? Activation.Identity : activation, sharedInput: i == 0));
            layers.AddRange(After(parameters, $"{name}.{i}", widths[i], activation, dropout, layerNorm, experts));
        }
        return new Sequential<T>(layers);
    }

    /// <summary>
    /// What follows dense layer <paramref name="layer"/> of a stack: with <paramref name="layerNorm"/>, a
    /// <see cref="LayerNorm{T}"/> (<c>{layer}.norm</c>, <paramref name="groups"/> rows of γ, β) that applies the layer's
    /// <paramref name="activation"/> (the dense layer must then have none); with <paramref name="dropout"/> p &gt; 0, a
    /// <see cref="Dropout{T}"/> (<c>{layer}.dropout</c>). None of them when neither is asked for.
    /// </summary>
    public static ILayer<T>[] After(FlatParameters<T> parameters, string layer, int width, Activation activation, double dropout,
        bool layerNorm, int groups = 1)
    {
        var after = new List<ILayer<T>>(2);
        if (layerNorm) after.Add(new LayerNorm<T>(parameters, layer + ".norm", width, activation, groups));
        if (dropout > 0) after.Add(new Dropout<T>(layer + ".dropout", width, dropout));
        return [.. after];
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<ILayer<T>> Layers => _layers;

    /// <summary>Layer <paramref name="index"/> as a dense layer (throws if it is another kind).</summary>
    public Dense<T> Dense(int index) => _layers[index] as Dense<T>
        ?? throw new InvalidOperationException($"Layer {index} ('{_layers[index].Name}') is a {_layers[index].GetType().Name}, not a dense layer.");

    /// <summary>Input features.</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>Output features.</summary>
    public int Outputs => _layers[^1].Outputs;

    /// <summary>Every parameter, as one contiguous group (available once the flat buffer is allocated).</summary>
    public ParameterGroup<T> Parameters => _group ??= new ParameterGroup<T>(_layers.SelectMany(l => l.Parameters));

    /// <summary>Records the layers' forward passes on the tape.</summary>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        foreach (var layer in _layers) x = layer.Forward(tape, x);
        return x;
    }

    /// <summary>Initializes every layer; the i-th dense layer (dropout and layer-norm layers, which draw nothing, not
    /// counted, so they change no weight) is seeded with a value derived from (seed, i).</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        int dense = 0;
        foreach (var layer in _layers)
            layer.Initialize(kind, layer is Dropout<T> or LayerNorm<T> ? seed : seed + 0x9E3779B97F4A7C15UL * (ulong)++dense);
    }
}
