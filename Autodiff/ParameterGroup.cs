using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// Parameters that occupy one contiguous window [<see cref="Offset"/>, Offset + <see cref="Length"/>) of the
/// flat parameter buffer — typically the shared trunk, registered first. Its gradients can be routed, as a
/// block, into any buffer of <see cref="Length"/> elements with the same inner layout: a row of the
/// [tasks × shared] per-task gradient buffer, for the Gram matrix and gradient projection.
/// </summary>
public sealed class ParameterGroup<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T>[] _parameters;
    private readonly View<T>[] _home;

    /// <summary>Groups parameters given in flat-layout order with no gaps between them.</summary>
    public ParameterGroup(IEnumerable<Tensor<T>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = [.. parameters];
        if (_parameters.Length == 0) throw new ArgumentException("A parameter group needs at least one parameter.", nameof(parameters));
        int next = -1;
        foreach (var p in _parameters)
        {
            var slot = p.Slot ?? throw new ArgumentException($"{p} is not a parameter of a flat buffer.", nameof(parameters));
            if (next >= 0 && slot.Offset != next)
                throw new ArgumentException($"{p} starts at {slot.Offset} but the group's previous parameter ends at {next}: a group must be contiguous, in layout order.", nameof(parameters));
            if (next < 0) Offset = slot.Offset;
            next = slot.Offset + slot.Length;
        }
        Length = next - Offset;
        _home = Array.ConvertAll(_parameters, p => p.Grad);
    }

    /// <summary>The parameters, in layout order.</summary>
    public IReadOnlyList<Tensor<T>> Parameters => _parameters;

    /// <summary>Index of the group's first element in the flat buffers.</summary>
    public int Offset { get; }

    /// <summary>Number of scalars in the group.</summary>
    public int Length { get; }

    /// <summary>Points every parameter's gradient into <paramref name="target"/> (Length elements, same inner layout).</summary>
    public void RouteGradients(View<T> target)
    {
        Check.Length(target, Length, nameof(target));
        foreach (var p in _parameters) p.Grad = target.Slice(p.Slot!.Offset - Offset, p.Length);
    }

    /// <summary>Points every parameter's gradient back at its window of the flat gradient buffer.</summary>
    public void RestoreGradients()
    {
        for (int i = 0; i < _parameters.Length; i++) _parameters[i].Grad = _home[i];
    }
}
