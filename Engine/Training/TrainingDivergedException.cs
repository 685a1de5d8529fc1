namespace Engine.Training;

/// <summary>
/// Training diverged: a task's training loss became NaN or ±∞, or grew past <see cref="TrainerOptions.MaxLoss"/>
/// (<see cref="Trainer.Fit"/>), or a model holding non-finite parameters was asked to be saved
/// (<see cref="MultiTaskModel.Save(string, ModelMetadata?, Optimizers.OptimizerState{float}?)"/>). Nothing is written when it is thrown.
/// </summary>
public sealed class TrainingDivergedException(string message, int? epoch = null, string? task = null, double? loss = null) : Exception(message)
{
    /// <summary>The epoch whose training loss diverged (1-based), when it was the loss.</summary>
    public int? Epoch { get; } = epoch;

    /// <summary>The task whose loss diverged.</summary>
    public string? Task { get; } = task;

    /// <summary>That loss (NaN, ±∞ or above the bound).</summary>
    public double? Loss { get; } = loss;
}
