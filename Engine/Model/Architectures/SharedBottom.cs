using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// Hard parameter sharing (Caruana 1997): one MLP trunk, <c>trunk.{i}</c>, of widths <see cref="ModelSpec.Trunk"/>, whose
/// output every task reads. Shared: the whole trunk. Task-owned: nothing in the shared part. The default architecture
/// (a <see cref="ModelSpec"/> whose <see cref="ModelSpec.Architecture"/> is null).
/// </summary>
[ArchitectureName("shared-bottom")]
public sealed record SharedBottomArchitecture : Architecture
{
    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) => new SharedBottom<T>(spec, parameters);
}

/// <summary>The shared trunk of <see cref="SharedBottomArchitecture"/>; the trunk's output is the boundary.</summary>
public sealed class SharedBottom<T> : SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Registers <c>trunk.0</c>, <c>trunk.1</c>, ….</summary>
    public SharedBottom(ModelSpec spec, FlatParameters<T> parameters)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Trunk = Sequential<T>.Mlp(parameters, "trunk", spec.SharedInputs, [.. spec.Trunk], spec.TrunkActivation,
            spec.TrunkOutputActivation ?? spec.TrunkActivation, spec.Dropout, spec.LayerNorm);
    }

    /// <summary>The trunk.</summary>
    public Sequential<T> Trunk { get; }

    /// <inheritdoc/>
    public override int FeatureWidth(int task) => Trunk.Outputs;

    /// <inheritdoc/>
    protected override IEnumerable<Tensor<T>> SharedTensors => Trunk.Layers.SelectMany(l => l.Parameters);

    /// <inheritdoc/>
    public override void Initialize(Initializer kind, ulong seed) => Trunk.Initialize(kind, seed);

    /// <inheritdoc/>
    public override void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary)
    {
        var z = Trunk.Forward(tape, inputs);
        features.Fill(z);
        boundary[0] = z;
    }
}
