namespace Engine.Optimizers;

/// <summary>A learning-rate schedule: the rate for the step with index <c>step</c> (0 for the first
/// <c>Step()</c> call), given a group's base rate. Computed on the host, like a PyTorch scheduler.</summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate of step <paramref name="step"/> (0-based) for a group whose base rate is <paramref name="baseLearningRate"/>.</summary>
    double LearningRate(double baseLearningRate, long step);
}

/// <summary>
/// Base of the built-in schedules: an optional linear warm-up of <see cref="WarmupSteps"/> steps,
/// lr(s) = base·(s + 1)/(W + 1) for s &lt; W, then the schedule's own decay over s − W
/// (so the decay phase starts at the full base rate, and no step runs with lr = 0).
/// </summary>
public abstract class LearningRateSchedule : ILearningRateSchedule
{
    private readonly int _warmupSteps;

    /// <summary>Number of warm-up steps W (0: none).</summary>
    public int WarmupSteps
    {
        get => _warmupSteps;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(WarmupSteps));
            _warmupSteps = value;
        }
    }

    /// <inheritdoc/>
    public double LearningRate(double baseLearningRate, long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return baseLearningRate * (step + 1) / (WarmupSteps + 1);
        return Decay(baseLearningRate, step - WarmupSteps);
    }

    /// <summary>The rate <paramref name="step"/> steps after the warm-up.</summary>
    protected abstract double Decay(double baseLearningRate, long step);
}

/// <summary>lr = base (after the optional warm-up).</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc/>
    protected override double Decay(double baseLearningRate, long step) => baseLearningRate;
}

/// <summary>lr = base·γ^⌊s/StepSize⌋ (PyTorch's StepLR).</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    /// <summary>Multiplies the rate by <paramref name="gamma"/> every <paramref name="stepSize"/> steps.</summary>
    public StepSchedule(int stepSize, double gamma = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
        if (!(gamma > 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "γ must be finite and > 0.");
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Steps between decays.</summary>
    public int StepSize { get; }

    /// <summary>Factor per decay.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double Decay(double baseLearningRate, long step) => baseLearningRate * Math.Pow(Gamma, step / StepSize);
}

/// <summary>lr = base·γˢ (PyTorch's ExponentialLR).</summary>
public sealed class ExponentialSchedule : LearningRateSchedule
{
    /// <summary>Multiplies the rate by <paramref name="gamma"/> every step.</summary>
    public ExponentialSchedule(double gamma)
    {
        if (!(gamma > 0) || double.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "γ must be finite and > 0.");
        Gamma = gamma;
    }

    /// <summary>Factor per step.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    protected override double Decay(double baseLearningRate, long step) => baseLearningRate * Math.Pow(Gamma, step);
}

/// <summary>lr = η_min + (base − η_min)·(1 + cos(π·s/T))/2 for s ≤ T, then η_min (PyTorch's CosineAnnealingLR closed form, held at its minimum).</summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    /// <summary>Anneals from the base rate to <paramref name="minLearningRate"/> over <paramref name="decaySteps"/> steps.</summary>
    public CosineSchedule(int decaySteps, double minLearningRate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(decaySteps);
        if (!(minLearningRate >= 0) || double.IsInfinity(minLearningRate)) throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, "η_min must be finite and ≥ 0.");
        DecaySteps = decaySteps;
        MinLearningRate = minLearningRate;
    }

    /// <summary>T: steps from the base rate down to the minimum (after the warm-up).</summary>
    public int DecaySteps { get; }

    /// <summary>η_min.</summary>
    public double MinLearningRate { get; }

    /// <inheritdoc/>
    protected override double Decay(double baseLearningRate, long step) => step >= DecaySteps
        ? MinLearningRate
        : MinLearningRate + (baseLearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * step / DecaySteps)) / 2;
}
