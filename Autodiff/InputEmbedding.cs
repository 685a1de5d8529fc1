using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// The embedding layer of a model's input (<see cref="Ops.EmbedInputs{T}"/>): the input's first <see cref="PassThrough"/>
/// columns pass through; each of the following columns holds a category index and is replaced by a row of its table,
/// <c>{name}.{t}.weight</c> [countₜ × dimₜ] (PyTorch's names for an <c>nn.ModuleList</c> of <c>nn.Embedding</c>). Initialized
/// N(0, 1), as <c>nn.Embedding</c> is.
/// </summary>
public sealed class InputEmbedding<T> : ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private readonly ParameterSlot[] _slots;
    private Tensor<T>[]? _tables;

    /// <summary>Registers one table per (count, dim) in <paramref name="tables"/>, in order.</summary>
    public InputEmbedding(FlatParameters<T> parameters, string name, int passThrough, IReadOnlyList<(int Count, int Dim)> tables)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(tables);
        Check.NonNegative(passThrough, nameof(passThrough));
        if (tables.Count == 0) throw new ArgumentException("An input embedding needs at least one table.", nameof(tables));
        _parameters = parameters;
        Name = name;
        PassThrough = passThrough;
        _slots = new ParameterSlot[tables.Count];
        int outputs = passThrough;
        for (int t = 0; t < tables.Count; t++)
        {
            Check.Positive(tables[t].Count, nameof(tables));
            Check.Positive(tables[t].Dim, nameof(tables));
            _slots[t] = parameters.Add($"{name}.{t}.weight", tables[t].Count, tables[t].Dim);
            outputs += tables[t].Dim;
        }
        Outputs = outputs;
    }

    /// <inheritdoc/>
    public string Name { get; }
    /// <summary>Numeric columns passed through, before the index columns.</summary>
    public int PassThrough { get; }
    /// <inheritdoc/>
    public int Inputs => PassThrough + _slots.Length;
    /// <inheritdoc/>
    public int Outputs { get; }
    /// <summary>The tables' slots, in column order.</summary>
    public IReadOnlyList<ParameterSlot> Slots => _slots;

    /// <summary>The tables, in column order (available once the flat buffer is allocated).</summary>
    public IReadOnlyList<Tensor<T>> Tables => _tables ??= Array.ConvertAll(_slots, s => Tensor<T>.Parameter(_parameters, s));

    /// <inheritdoc/>
    public IEnumerable<Tensor<T>> Parameters => Tables;

    /// <inheritdoc/>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.EmbedInputs(x, PassThrough, Tables);
    }

    /// <summary>Every table N(0, 1), table t from its own stream of <paramref name="seed"/> (the initializer kind is not used:
    /// PyTorch initializes <c>nn.Embedding</c> N(0, 1) whatever the linear layers use).</summary>
    public void Initialize(Initializer kind, ulong seed)
    {
        var backend = (Backend<T>)_parameters.Values.Buffer!.Owner;
        for (int t = 0; t < _slots.Length; t++)
            Init.Upload(backend, Init.Normal(_slots[t].Length, 1.0, seed ^ (0xE3B0C44298FC1C14UL * (ulong)(t + 1))), Tables[t].Data);
    }
}
