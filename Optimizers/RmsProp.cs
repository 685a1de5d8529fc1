using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>Options of <see cref="RmsProp{T}"/> (PyTorch 1.13's names and defaults).</summary>
public sealed record RmsPropOptions
{
    /// <summary>Base learning rate lr.</summary>
    public double LearningRate { get; init; } = 1e-2;
    /// <summary>α, the smoothing constant of v (and ḡ).</summary>
    public double Alpha { get; init; } = 0.99;
    /// <summary>ε, added outside the square root.</summary>
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>L2 weight decay λ (g += λθ).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Momentum μ (0: no buffer).</summary>
    public double Momentum { get; init; }
    /// <summary>Normalise by √(v − ḡ²), an estimate of the gradient's standard deviation, instead of √v.</summary>
    public bool Centered { get; init; }
    /// <summary>Parameter groups with their own learning rate / decay.</summary>
    public IReadOnlyList<ParameterGroup>? Groups { get; init; }
    /// <summary>Learning-rate schedule (null: constant).</summary>
    public ILearningRateSchedule? Schedule { get; init; }
}

/// <summary>
/// RMSprop (Hinton's lecture 6e; centered: Graves 2013), PyTorch 1.13 semantics, one fused kernel per contiguous range of
/// each parameter group reading the clip scale and skip flag from <see cref="Optimizer{T}.Control"/> on the device:
/// <code>
/// v ← αv + (1−α)g²,  [ḡ ← αḡ + (1−α)g],  θ ← θ − lr·g/(√(v [− ḡ²]) + ε)   (momentum: buf ← μ·buf + g/(…), θ ← θ − lr·buf)
/// </code>
/// with g the clipped gradient plus λθ. State, named as PyTorch's: <c>square_avg</c>, <c>grad_avg</c> (centered),
/// <c>momentum_buffer</c> (μ &gt; 0). Maths: docs/maths.md §13.8.
/// </summary>
public sealed class RmsProp<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly View<T> _v, _mean, _buffer;

    /// <summary>Creates the optimizer and its zeroed state buffers.</summary>
    public RmsProp(Backend<T> backend, FlatParameters<T> parameters, RmsPropOptions? options = null)
        : base(backend, parameters, (options ??= new RmsPropOptions()).LearningRate, options.WeightDecay, options.Groups, options.Schedule)
    {
        Options = options;
        ValidateEveryGroup(options.LearningRate, options.WeightDecay, (lr, decay) => Settings(lr, decay).Validate());
        _v = AddStateBuffer("square_avg");
        if (options.Momentum != 0) _buffer = AddStateBuffer("momentum_buffer");
        if (options.Centered) _mean = AddStateBuffer("grad_avg");
    }

    /// <summary>The options it was created with.</summary>
    public RmsPropOptions Options { get; }

    /// <summary>v, the running average of g² (flat layout).</summary>
    public View<T> SquareAverage => _v;

    /// <summary>ḡ, the running average of g (centered only; empty otherwise).</summary>
    public View<T> GradientAverage => _mean;

    /// <summary>The momentum buffer (empty without momentum).</summary>
    public View<T> MomentumBuffer => _buffer;

    private RmsPropSettings Settings(double learningRate, double weightDecay) =>
        new(learningRate, Options.Alpha, Options.Epsilon, weightDecay, Options.Momentum, Options.Centered);

    /// <inheritdoc/>
    protected override void StepRange(int offset, int length, double learningRate, double weightDecay, View<T> control) =>
        Backend.RmsPropStep(Parameters.Values.Slice(offset, length), Parameters.Gradients.Slice(offset, length), _v.Slice(offset, length),
            Options.Centered ? _mean.Slice(offset, length) : default, Options.Momentum != 0 ? _buffer.Slice(offset, length) : default,
            Settings(learningRate, weightDecay), control);
}
