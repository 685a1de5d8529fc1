using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>Options of <see cref="Sgd{T}"/> (PyTorch's semantics and defaults).</summary>
public sealed record SgdOptions
{
    /// <summary>Base learning rate lr.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Momentum μ (0: plain SGD, no buffer).</summary>
    public double Momentum { get; init; }
    /// <summary>Dampening of the gradient in the momentum buffer.</summary>
    public double Dampening { get; init; }
    /// <summary>L2 weight decay λ (g += λθ).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Nesterov momentum (needs μ &gt; 0 and dampening 0).</summary>
    public bool Nesterov { get; init; }
    /// <summary>Parameter groups with their own learning rate / decay.</summary>
    public IReadOnlyList<ParameterGroup>? Groups { get; init; }
    /// <summary>Learning-rate schedule (null: constant).</summary>
    public ILearningRateSchedule? Schedule { get; init; }
}

/// <summary>
/// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, PyTorch
/// semantics (first applied step: buf = g; later buf = μ·buf + (1 − dampening)·g). One kernel per
/// contiguous range of each group. Maths: docs/maths.md §13.3, "SGD with momentum".
/// </summary>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly View<T> _buffer;

    /// <summary>Creates the optimizer (and, with momentum, its zeroed momentum buffer).</summary>
    public Sgd(Backend<T> backend, FlatParameters<T> parameters, SgdOptions? options = null)
        : base(backend, parameters, (options ??= new SgdOptions()).LearningRate, options.WeightDecay, options.Groups, options.Schedule)
    {
        Options = options;
        ValidateEveryGroup(options.LearningRate, options.WeightDecay, (lr, decay) => Settings(lr, decay).Validate());
        if (options.Momentum != 0) _buffer = AddStateBuffer("momentum_buffer");
    }

    /// <summary>The options it was created with.</summary>
    public SgdOptions Options { get; }

    /// <summary>The momentum buffer (flat layout; empty without momentum).</summary>
    public View<T> MomentumBuffer => _buffer;

    private SgdSettings Settings(double learningRate, double weightDecay) =>
        new(learningRate, Options.Momentum, Options.Dampening, weightDecay, Options.Nesterov);

    /// <inheritdoc/>
    protected override void StepRange(int offset, int length, double learningRate, double weightDecay, View<T> control) =>
        Backend.SgdStep(Parameters.Values.Slice(offset, length), Parameters.Gradients.Slice(offset, length),
            Options.Momentum != 0 ? _buffer.Slice(offset, length) : default, Settings(learningRate, weightDecay), control);
}
