using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>Options of <see cref="Adam{T}"/> (PyTorch's defaults). <c>Decoupled = true</c> gives AdamW.</summary>
public sealed record AdamOptions
{
    /// <summary>Base learning rate lr.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>β₁, decay of the first moment.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>β₂, decay of the second moment.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>ε, added outside the square root.</summary>
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>λ: L2 (g += λθ) for Adam, decoupled (θ *= 1 − lr·λ) for AdamW.</summary>
    public double WeightDecay { get; init; }
    /// <summary>True for AdamW (decoupled weight decay).</summary>
    public bool Decoupled { get; init; }
    /// <summary>Use the running maximum of v (AMSGrad).</summary>
    public bool AmsGrad { get; init; }
    /// <summary>Divide the moments by 1 − βᵗ (default, as PyTorch); false gives the uncorrected seed formula.</summary>
    public bool BiasCorrection { get; init; } = true;
    /// <summary>Parameter groups with their own learning rate / decay; the rest use the values above.</summary>
    public IReadOnlyList<ParameterGroup>? Groups { get; init; }
    /// <summary>Learning-rate schedule (null: constant).</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>AdamW with PyTorch's defaults (weight decay 0.01).</summary>
    public static AdamOptions AdamW(double learningRate = 1e-3, double weightDecay = 0.01) =>
        new() { LearningRate = learningRate, WeightDecay = weightDecay, Decoupled = true };
}

/// <summary>
/// Adam / AdamW over a <see cref="FlatParameters{T}"/> model, PyTorch semantics, one fused kernel per
/// contiguous range of each parameter group (θ, g, m, v and vMax in one pass, gradient scale and skip
/// flag read from <see cref="Optimizer{T}.Control"/> on the device).
/// <code>
/// using var adam = new Adam&lt;float&gt;(backend, parameters, new AdamOptions { LearningRate = 1e-3, WeightDecay = 0.01, Decoupled = true });
/// using var clipper = new GradientClipper&lt;float&gt;(backend, parameters, adam.Control);
/// // each step, after the backward pass:
/// clipper.Clip(maxNorm: 1.0);
/// adam.Step();
/// </code>
/// Maths: docs/maths.md §13.2, "Adam and AdamW".
/// </summary>
public sealed class Adam<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly View<T> _m, _v, _vMax;

    /// <summary>Creates the optimizer and its zeroed moment buffers.</summary>
    public Adam(Backend<T> backend, FlatParameters<T> parameters, AdamOptions? options = null)
        : base(backend, parameters, (options ??= new AdamOptions()).LearningRate, options.WeightDecay, options.Groups, options.Schedule)
    {
        Options = options;
        ValidateEveryGroup(options.LearningRate, options.WeightDecay, (lr, decay) => Settings(lr, decay).Validate());
        _m = AddStateBuffer("exp_avg");
        _v = AddStateBuffer("exp_avg_sq");
        if (options.AmsGrad) _vMax = AddStateBuffer("max_exp_avg_sq");
    }

    /// <summary>The options it was created with.</summary>
    public AdamOptions Options { get; }

    /// <summary>The first-moment buffer m (flat layout).</summary>
    public View<T> FirstMoment => _m;

    /// <summary>The second-moment buffer v (flat layout).</summary>
    public View<T> SecondMoment => _v;

    /// <summary>The running maximum of v (AMSGrad only; empty otherwise).</summary>
    public View<T> MaxSecondMoment => _vMax;

    private AdamSettings Settings(double learningRate, double weightDecay) =>
        new(learningRate, Options.Beta1, Options.Beta2, Options.Epsilon, weightDecay, Options.Decoupled, Options.AmsGrad, Options.BiasCorrection);

    /// <inheritdoc/>
    protected override void StepRange(int offset, int length, double learningRate, double weightDecay, View<T> control) =>
        Backend.AdamStep(Parameters.Values.Slice(offset, length), Parameters.Gradients.Slice(offset, length),
            _m.Slice(offset, length), _v.Slice(offset, length), Options.AmsGrad ? _vMax.Slice(offset, length) : default,
            Settings(learningRate, weightDecay), control);
}
