using Engine.Distributed;
using Engine.Optimizers;

namespace Engine.Training;

/// <summary>Options of <see cref="Trainer.Fit"/>.</summary>
public sealed record TrainerOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Rows per step; 0 (or ≥ the row count) = full batch (no shuffling).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Seed of the per-epoch shuffle (epoch e uses a permutation derived from (Seed, e)).</summary>
    public ulong Seed { get; init; }

    /// <summary>The training step's options: combination, weighting, clipping, optimizer, schedule.</summary>
    public StepOptions Step { get; init; } = new();

    /// <summary>Stop after this many epochs without a validation-loss improvement and restore the best epoch's weights
    /// (needs validation data); null = off.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>An improvement must lower the validation loss by more than this.</summary>
    public double EarlyStoppingMinDelta { get; init; }

    /// <summary>What early stopping watches: one task's validation metric (<see cref="EarlyStoppingMonitor"/>), or null for the
    /// weighted validation loss Σ λᵢ Lᵢ. Checked against the model's heads when training starts.</summary>
    public EarlyStoppingMonitor? Monitor { get; init; }

    /// <summary>Optimizer state to resume from (e.g. <see cref="MultiTaskModel.ReadOptimizerState"/>); null = fresh.</summary>
    public OptimizerState<float>? InitialOptimizerState { get; init; }

    /// <summary>
    /// A task's mean training loss over an epoch above this means training diverged: <see cref="Trainer.Fit"/> throws
    /// <see cref="TrainingDivergedException"/> after that epoch (a NaN or ±∞ loss always does). Default +∞ (only
    /// non-finite losses), as the library cannot know the scale of the targets; the experiment pipeline, whose targets are
    /// standardized (an untrained model's loss is about 1), sets 10⁶.
    /// </summary>
    public double MaxLoss { get; init; } = double.PositiveInfinity;

    /// <summary>The most per-epoch reports <see cref="TrainingResult.History"/> keeps (≥ 2): a longer run keeps every s-th
    /// epoch (s doubling as needed) and the last, so memory is bounded (<see cref="EpochHistory"/>).</summary>
    public int MaxHistory { get; init; } = 10_000;

    /// <summary>Data-parallel training over several processes (MPI, NCCL): every rank calls Fit with the same options
    /// and data, trains on its shard, and ends with the same weights; null = one process (docs/scale-out.md).</summary>
    public DistributedOptions? Distributed { get; init; }

    /// <summary>Throws, naming the option, unless the options are usable.</summary>
    public void Validate()
    {
        if (Epochs <= 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be positive.");
        if (BatchSize < 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be ≥ 0 (0 = full batch).");
        if (EarlyStoppingPatience is < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be ≥ 1.");
        if (!(EarlyStoppingMinDelta >= 0) || !double.IsFinite(EarlyStoppingMinDelta))
            throw new ArgumentOutOfRangeException(nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, "EarlyStoppingMinDelta must be finite and ≥ 0.");
        if (!(MaxLoss > 0)) throw new ArgumentOutOfRangeException(nameof(MaxLoss), MaxLoss, "MaxLoss must be above 0 (+∞: only non-finite losses count as divergence).");
        if (MaxHistory < 2) throw new ArgumentOutOfRangeException(nameof(MaxHistory), MaxHistory, "MaxHistory must be at least 2.");
        ArgumentNullException.ThrowIfNull(Step, nameof(Step));
        if (Distributed is { } d)
        {
            ArgumentNullException.ThrowIfNull(d.Communicator, nameof(Distributed));
            if (d.WeightCheckSteps < 0) throw new ArgumentOutOfRangeException(nameof(Distributed), d.WeightCheckSteps, "DistributedOptions.WeightCheckSteps must be ≥ 0 (0 = after every epoch only).");
        }
    }
}
