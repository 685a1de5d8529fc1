using Engine.Kernels;

namespace Engine.Training;

/// <summary>How the task weights λᵢ of Σ λᵢ Lᵢ are chosen (Engine.Optimizers' weightings).</summary>
public enum WeightingMethod
{
    /// <summary>Fixed: λᵢ = <see cref="TaskHead.LossWeight"/>.</summary>
    Static,
    /// <summary>Every step, from the batch losses: λᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ) (on the device).</summary>
    LossBalanced,
    /// <summary>Every epoch, from the training accuracies: λᵢ = (1 − accᵢ)/Σⱼ(1 − accⱼ) (classification tasks only).</summary>
    Accuracy,
    /// <summary>Dynamic weight averaging (Liu et al. 2019), every epoch from the last two epochs' training losses.</summary>
    Dwa,
    /// <summary>Learned log-variances sᵢ (Kendall et al. 2018): λᵢ = exp(−sᵢ), loss Σ exp(−sᵢ)Lᵢ + sᵢ.</summary>
    Uncertainty,
}

/// <summary>Which optimizer updates the parameters (Engine.Optimizers, PyTorch semantics).</summary>
public enum OptimizerKind
{
    /// <summary>Adam; weight decay is L2 (added to the gradient).</summary>
    Adam,
    /// <summary>AdamW; weight decay is decoupled (θ ← θ(1 − lr·λ)).</summary>
    AdamW,
    /// <summary>SGD with optional momentum, dampening, Nesterov.</summary>
    Sgd,
    /// <summary>RMSprop with optional momentum and centering (PyTorch's <c>RMSprop</c>); weight decay is L2.</summary>
    RmsProp,
    /// <summary>Adagrad (PyTorch's <c>Adagrad</c>): per-parameter rates from the sum of squared gradients; weight decay is L2.</summary>
    Adagrad,
}

/// <summary>The learning-rate schedule (Engine.Optimizers' schedules), each after an optional linear warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>lr = base.</summary>
    Constant,
    /// <summary>lr = base·γ^⌊s/StepSize⌋.</summary>
    Step,
    /// <summary>lr = base·γˢ.</summary>
    Exponential,
    /// <summary>Cosine annealing from base to <see cref="StepOptions.MinLearningRate"/> over the decay steps.</summary>
    Cosine,
    /// <summary>Reduce on plateau (<see cref="Optimizers.PlateauSchedule"/>): lr ← max(lr·γ, min-lr) after more than
    /// <see cref="StepOptions.PlateauPatience"/> epochs without a relative improvement of the watched loss.</summary>
    Plateau,
}

/// <summary>
/// Everything a <see cref="TrainingStep"/> does besides forward and backward: how per-task gradients of the shared
/// trunk are combined, how tasks are weighted, clipping, the optimizer and its schedule.
/// </summary>
public sealed record StepOptions
{
    /// <summary>
    /// The method, by its registry name (<see cref="Engine.Optimizers.MethodRegistry"/>, <c>mtl methods</c>): one name, or
    /// <c>WEIGHTING+GRADIENT</c> (a loss weighting and a gradient method, e.g. <c>uncertainty+pcgrad</c>); the one left out
    /// is <c>static</c> (the heads' loss weights) or <c>sum</c>. Null: the method is named by the older enum properties
    /// <see cref="Weighting"/> and <see cref="Combination"/> (aliases: <c>Combination = PcGrad</c> is <c>"pcgrad"</c>), which
    /// must then keep their defaults when this is set.
    /// </summary>
    public string? Method { get; init; }

    /// <summary>The method's typed options, key → value as text (<c>"c" → "0.4"</c>; <c>"cagrad.c"</c> when the key is
    /// ambiguous between the two methods of a pair); checked against the registry when the step is built. The older typed
    /// properties (<see cref="CaGradC"/>, <see cref="PcGradReduction"/>, <see cref="ProjectionReferenceTask"/>,
    /// <see cref="DwaTemperature"/>) are aliases of options; giving a changed one and its option here is refused.</summary>
    public IReadOnlyDictionary<string, string> MethodOptions { get; init; } = new Dictionary<string, string>();

    /// <summary>How the per-task trunk gradients are combined. <see cref="CombinationMethod.Sum"/> (with
    /// <see cref="TaskGradientDiagnostics"/> off) needs no per-task gradients: one backward of Σ λᵢ Lᵢ.</summary>
    public CombinationMethod Combination { get; init; } = CombinationMethod.Sum;

    /// <summary>PCGrad: sum (the paper) or mean of the projected gradients.</summary>
    public PcGradReduction PcGradReduction { get; init; } = PcGradReduction.Sum;

    /// <summary>Projection: the task the others are made orthogonal to.</summary>
    public int ProjectionReferenceTask { get; init; }

    /// <summary>CAGrad: the radius c ≥ 0.</summary>
    public double CaGradC { get; init; } = 0.5;

    /// <summary>Seed of PCGrad's random projection order.</summary>
    public int CombinationSeed { get; init; }

    /// <summary>Compute per-task trunk gradients even for <see cref="CombinationMethod.Sum"/>, to report their cosines
    /// and conflicts (costs one backward per task instead of one in total).</summary>
    public bool TaskGradientDiagnostics { get; init; }

    /// <summary>How the task weights are chosen.</summary>
    public WeightingMethod Weighting { get; init; } = WeightingMethod.Static;

    /// <summary>DWA's temperature τ.</summary>
    public double DwaTemperature { get; init; } = 2.0;

    /// <summary>Global-norm clipping threshold c (PyTorch's <c>clip_grad_norm_</c>); null = no clipping (the norm is
    /// still measured, and a non-finite norm still skips the step).</summary>
    public double? MaxGradNorm { get; init; }

    /// <summary>The optimizer.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Base learning rate (heads may override it: <see cref="TaskHead.LearningRate"/>).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Adam β₁.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam β₂.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>ε of Adam, RMSprop and Adagrad; null: the optimizer's PyTorch default (1e-8; Adagrad 1e-10).</summary>
    public double? Epsilon { get; init; }

    /// <summary>Weight decay λ (L2 for Adam, SGD and RMSprop, decoupled for AdamW); heads may override it.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Momentum μ of SGD and RMSprop.</summary>
    public double Momentum { get; init; }

    /// <summary>RMSprop α, the smoothing constant of the running averages (PyTorch's 0.99).</summary>
    public double Alpha { get; init; } = 0.99;

    /// <summary>RMSprop: centered, normalising by √(v − ḡ²) instead of √v.</summary>
    public bool Centered { get; init; }

    /// <summary>Adagrad lr_decay: step t uses lr/(1 + (t − 1)·lr_decay).</summary>
    public double LearningRateDecay { get; init; }

    /// <summary>Adagrad initial_accumulator_value, the starting sum of squares.</summary>
    public double InitialAccumulatorValue { get; init; }

    /// <summary>SGD Nesterov momentum (needs μ &gt; 0 and dampening 0).</summary>
    public bool Nesterov { get; init; }

    /// <summary>SGD dampening d of the momentum buffer: b ← μb + (1 − d)g (PyTorch's; 0 = none).</summary>
    public double Dampening { get; init; }

    /// <summary>Adam/AdamW AMSGrad.</summary>
    public bool AmsGrad { get; init; }

    /// <summary>Adam/AdamW: divide the moments by 1 − βᵗ (default, as PyTorch); false gives the uncorrected
    /// θ ← θ − lr·m/(√v + ε).</summary>
    public bool BiasCorrection { get; init; } = true;

    /// <summary>The learning-rate schedule.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Constant;

    /// <summary>Linear warm-up steps before the schedule.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Step schedule: steps between decays.</summary>
    public int ScheduleStepSize { get; init; } = 1000;

    /// <summary>Step and exponential schedules: the factor γ; plateau schedule: the factor of a reduction (must be &lt; 1).</summary>
    public double ScheduleGamma { get; init; } = 0.1;

    /// <summary>Cosine schedule: steps from the base rate to the minimum; null = the whole run (the trainer knows it).</summary>
    public int? DecaySteps { get; init; }

    /// <summary>Cosine schedule: the final learning rate; plateau schedule: the lowest rate.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>Plateau schedule: epochs without improvement tolerated before a reduction (PyTorch's patience, 10).</summary>
    public int PlateauPatience { get; init; } = 10;

    /// <summary>Plateau schedule: the relative improvement that counts (PyTorch's threshold, 1e-4).</summary>
    public double PlateauThreshold { get; init; } = 1e-4;

    /// <summary>Plateau schedule: epochs after a reduction before bad epochs count again (PyTorch's cooldown, 0).</summary>
    public int PlateauCooldown { get; init; }

    /// <summary>Accumulate per-task training metrics (loss, RMSE/MAE, accuracy) on the device every step
    /// (a few small launches per task). Off: only the losses are accumulated.</summary>
    public bool TrackMetrics { get; init; } = true;
}
