namespace Engine.Optimizers;

/// <summary>
/// Reduce-on-plateau (PyTorch's <c>ReduceLROnPlateau</c>, mode "min", threshold mode "rel"): the trainer hands it one
/// number per epoch (<see cref="Observe"/>: the validation loss, or the training loss without validation data); when
/// it has not improved on the best so far by more than a relative <see cref="Threshold"/>
/// (better ⇔ m &lt; best·(1 − threshold)) for more than <see cref="Patience"/> epochs, every group's rate is multiplied
/// by <see cref="Factor"/>, never below <see cref="MinLearningRate"/>, and a reduction smaller than
/// <see cref="Eps"/> is skipped; then <see cref="Cooldown"/> epochs pass before bad epochs count again. The rate of a
/// group with base rate η after k reductions is ηₖ with η₀ = η, ηᵢ = max(ηᵢ₋₁·factor, η_min) unless
/// ηᵢ₋₁ − that ≤ eps (then ηᵢ = ηᵢ₋₁): PyTorch's per-group update, replayed from the base rate. The rate changes only
/// between epochs, on the host: a step reads it as any schedule's (no device read). docs/maths.md §16.
/// </summary>
public sealed class PlateauSchedule : LearningRateSchedule
{
    /// <summary>A schedule with PyTorch's defaults unless given: factor 0.1, patience 10, threshold 1e-4, cooldown 0,
    /// min_lr 0, eps 1e-8.</summary>
    public PlateauSchedule(double factor = 0.1, int patience = 10, double threshold = 1e-4, int cooldown = 0, double minLearningRate = 0, double eps = 1e-8)
    {
        if (!(factor > 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "The plateau factor must lie in (0, 1).");
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        ArgumentOutOfRangeException.ThrowIfNegative(cooldown);
        if (!(threshold >= 0) || double.IsInfinity(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The plateau threshold must be finite and ≥ 0.");
        if (!(minLearningRate >= 0) || double.IsInfinity(minLearningRate)) throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, "η_min must be finite and ≥ 0.");
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be finite and ≥ 0.");
        (Factor, Patience, Threshold, Cooldown, MinLearningRate, Eps) = (factor, patience, threshold, cooldown, minLearningRate, eps);
    }

    /// <summary>The factor of a reduction.</summary>
    public double Factor { get; }
    /// <summary>Epochs without improvement tolerated before a reduction.</summary>
    public int Patience { get; }
    /// <summary>The relative improvement that counts as better.</summary>
    public double Threshold { get; }
    /// <summary>Epochs after a reduction during which bad epochs are not counted.</summary>
    public int Cooldown { get; }
    /// <summary>η_min: no group's rate goes below it.</summary>
    public double MinLearningRate { get; }
    /// <summary>Reductions smaller than this are skipped.</summary>
    public double Eps { get; }

    /// <summary>The best value observed (+∞ before the first).</summary>
    public double Best { get; private set; } = double.PositiveInfinity;
    /// <summary>Consecutive epochs without improvement (PyTorch's <c>num_bad_epochs</c>).</summary>
    public int BadEpochs { get; private set; }
    /// <summary>Cooldown epochs left.</summary>
    public int CooldownLeft { get; private set; }
    /// <summary>Reductions so far (k).</summary>
    public int Reductions { get; private set; }

    /// <summary>Name of <see cref="Best"/> among an optimizer state's scalars (a checkpoint stores it as the F64 scalar
    /// <c>optimizer.schedule.plateau.best</c>).</summary>
    public const string BestName = "schedule.plateau.best";
    /// <summary>Name of <see cref="BadEpochs"/> among an optimizer state's scalars (I64 in a checkpoint).</summary>
    public const string BadEpochsName = "schedule.plateau.bad_epochs";
    /// <summary>Name of <see cref="CooldownLeft"/> among an optimizer state's scalars (I64 in a checkpoint).</summary>
    public const string CooldownLeftName = "schedule.plateau.cooldown_left";
    /// <summary>Name of <see cref="Reductions"/> among an optimizer state's scalars (I64 in a checkpoint).</summary>
    public const string ReductionsName = "schedule.plateau.reductions";
    /// <summary>The four names of the plateau's state, <see cref="BestName"/> first.</summary>
    public static readonly IReadOnlyList<string> StateNames = [BestName, BadEpochsName, CooldownLeftName, ReductionsName];

    /// <summary>The plateau's state under <see cref="StateNames"/>, to resume it with <see cref="Restore"/>.</summary>
    public IEnumerable<KeyValuePair<string, double>> SaveState() =>
    [
        new(BestName, Best), new(BadEpochsName, BadEpochs), new(CooldownLeftName, CooldownLeft), new(ReductionsName, Reductions),
    ];

    /// <summary>Sets the state a <see cref="SaveState"/> wrote: best (+∞ or finite), and the counters, whole numbers ≥ 0
    /// with the cooldown left at most <see cref="Cooldown"/>. Throws <see cref="ArgumentException"/> naming the value otherwise
    /// (nothing changed).</summary>
    public void Restore(double best, double badEpochs, double cooldownLeft, double reductions)
    {
        if (double.IsNaN(best) || double.IsNegativeInfinity(best))
            throw new ArgumentException($"Plateau state '{BestName}' is {best}; it must be finite or +∞.", "state");
        static int Count(string name, double value, int max) => value >= 0 && value == Math.Floor(value) && value <= max ? (int)value
            : throw new ArgumentException($"Plateau state '{name}' is {value}; it must be a whole number in [0, {max}].", "state");
        int bad = Count(BadEpochsName, badEpochs, int.MaxValue), cool = Count(CooldownLeftName, cooldownLeft, Cooldown);
        int reduced = Count(ReductionsName, reductions, int.MaxValue);
        (Best, BadEpochs, CooldownLeft, Reductions) = (best, bad, cool, reduced);
    }

    /// <summary>Takes the epoch's value; returns true when it reduced the rate. A value that is not finite counts as
    /// no improvement (PyTorch's comparison with NaN is false).</summary>
    public bool Observe(double value)
    {
        if (value < Best * (1 - Threshold)) { Best = value; BadEpochs = 0; }
        else BadEpochs++;
        if (CooldownLeft > 0) { CooldownLeft--; BadEpochs = 0; }
        if (BadEpochs <= Patience) return false;
        Reductions++;
        CooldownLeft = Cooldown;
        BadEpochs = 0;
        return true;
    }

    /// <inheritdoc/>
    protected override double Decay(double baseLearningRate, long step)
    {
        double lr = baseLearningRate;
        for (int i = 0; i < Reductions; i++)
        {
            double next = Math.Max(lr * Factor, MinLearningRate);
            if (lr - next > Eps) lr = next;
        }
        return lr;
    }
}
