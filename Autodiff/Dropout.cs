using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// A dropout layer (<see cref="Ops.Dropout{T}"/>) in a stack: no parameters; drops with probability
/// <see cref="Probability"/> while the tape is training, the identity otherwise. Its mask's layer id is
/// <see cref="DropoutMask.LayerId"/> of its name, so two layers of a model draw independent masks and a model rebuilt from
/// its spec draws the same ones.
/// </summary>
public sealed class Dropout<T> : ILayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A dropout layer called <paramref name="name"/> on <paramref name="features"/> features.</summary>
    public Dropout(string name, int features, double probability)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Check.Positive(features, nameof(features));
        _ = new DropoutMask(0, 0, 0, probability);   // p ∈ [0, 1)
        Name = name;
        Inputs = features;
        Probability = probability;
        LayerId = DropoutMask.LayerId(name);
    }

    /// <inheritdoc/>
    public string Name { get; }
    /// <inheritdoc/>
    public int Inputs { get; }
    /// <inheritdoc/>
    public int Outputs => Inputs;
    /// <summary>p, the probability of dropping an element.</summary>
    public double Probability { get; }
    /// <summary>The mask's counter word 1.</summary>
    public uint LayerId { get; }

    /// <inheritdoc/>
    public IEnumerable<Tensor<T>> Parameters => [];

    /// <inheritdoc/>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T> x)
    {
        ArgumentNullException.ThrowIfNull(tape);
        return tape.Dropout(x, Probability, LayerId);
    }

    /// <inheritdoc/>
    public void Initialize(Initializer kind, ulong seed) { }
}
