using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// A layer a stack (<see cref="Sequential{T}"/>: a trunk, an expert, a tower) is built from: it registers its
/// parameters in a <see cref="FlatParameters{T}"/> when constructed, records its forward on a tape, and
/// initializes itself, seeded. <see cref="Dense{T}"/> is one; any layer with this shape (normalization, dropout)
/// can sit in a stack.
/// </summary>
public interface ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The layer's name (prefix of its parameter names).</summary>
    string Name { get; }

    /// <summary>Input features per row.</summary>
    int Inputs { get; }

    /// <summary>Output features per row.</summary>
    int Outputs { get; }

    /// <summary>The layer's parameters in flat-layout order (available once the flat buffer is allocated).</summary>
    IEnumerable<Tensor<T>> Parameters { get; }

    /// <summary>Records the layer's forward pass on the tape.</summary>
    Tensor<T> Forward(Tape<T> tape, Tensor<T> x);

    /// <summary>Fills the parameters, seeded (setup time).</summary>
    void Initialize(Initializer kind, ulong seed);
}
