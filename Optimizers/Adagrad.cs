using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>Options of <see cref="Adagrad{T}"/> (PyTorch 1.13's names and defaults).</summary>
public sealed record AdagradOptions
{
    /// <summary>Base learning rate lr.</summary>
    public double LearningRate { get; init; } = 1e-2;
    /// <summary>lr_decay: the step t uses clr = lr/(1 + (t − 1)·lr_decay).</summary>
    public double LearningRateDecay { get; init; }
    /// <summary>L2 weight decay λ (g += λθ).</summary>
    public double WeightDecay { get; init; }
    /// <summary>initial_accumulator_value, the starting value of every entry of the sum of squares.</summary>
    public double InitialAccumulatorValue { get; init; }
    /// <summary>ε, added outside the square root.</summary>
    public double Epsilon { get; init; } = 1e-10;
    /// <summary>Parameter groups with their own learning rate / decay.</summary>
    public IReadOnlyList<ParameterGroup>? Groups { get; init; }
    /// <summary>Learning-rate schedule (null: constant); it scales lr before the lr_decay factor.</summary>
    public ILearningRateSchedule? Schedule { get; init; }
}

/// <summary>
/// Adagrad (Duchi, Hazan and Singer 2011), PyTorch 1.13 semantics, one fused kernel per contiguous range of each parameter
/// group reading the clip scale, skip flag and step count t from <see cref="Optimizer{T}.Control"/> on the device:
/// <code>
/// g ← g + λθ,  s ← s + g²,  θ ← θ − clr·g/(√s + ε),  clr = lr/(1 + (t − 1)·lr_decay)
/// </code>
/// with g the clipped gradient and s starting at initial_accumulator_value. State, named as PyTorch's: <c>sum</c>.
/// Maths: docs/maths.md §13.9.
/// </summary>
public sealed class Adagrad<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly View<T> _sum;

    /// <summary>Creates the optimizer and its state buffer, filled with the initial accumulator value.</summary>
    public Adagrad(Backend<T> backend, FlatParameters<T> parameters, AdagradOptions? options = null)
        : base(backend, parameters, (options ??= new AdagradOptions()).LearningRate, options.WeightDecay, options.Groups, options.Schedule)
    {
        Options = options;
        ValidateEveryGroup(options.LearningRate, options.WeightDecay, (lr, decay) =>
        {
            Settings(lr, decay).Validate();
            if (!(options.InitialAccumulatorValue >= 0) || double.IsInfinity(options.InitialAccumulatorValue))
                throw new ArgumentOutOfRangeException(nameof(options.InitialAccumulatorValue), options.InitialAccumulatorValue, "The initial accumulator value must be finite and ≥ 0.");
        });
        _sum = AddStateBuffer("sum");
        if (options.InitialAccumulatorValue != 0)
            backend.Upload<T>(Enumerable.Repeat(T.CreateTruncating(options.InitialAccumulatorValue), parameters.Count).ToArray(), _sum);
    }

    /// <summary>The options it was created with.</summary>
    public AdagradOptions Options { get; }

    /// <summary>s, the sum of squared gradients (flat layout).</summary>
    public View<T> StateSum => _sum;

    private AdagradSettings Settings(double learningRate, double weightDecay) =>
        new(learningRate, Options.LearningRateDecay, Options.Epsilon, weightDecay);

    /// <inheritdoc/>
    protected override void StepRange(int offset, int length, double learningRate, double weightDecay, View<T> control) =>
        Backend.AdagradStep(Parameters.Values.Slice(offset, length), Parameters.Gradients.Slice(offset, length), _sum.Slice(offset, length),
            Settings(learningRate, weightDecay), control);
}
