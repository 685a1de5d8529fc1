using Engine.Metrics;
using Engine.Optimizers;

namespace Engine.Training;

/// <summary>
/// What the <see cref="TrainingStep"/> accumulated on the device since its statistics were last reset (one epoch, for
/// the trainer), read by <see cref="TrainingStep.ReadStatistics"/> in one go, outside the hot path.
/// </summary>
/// <param name="Steps">Steps run.</param>
/// <param name="Rows">Rows seen.</param>
/// <param name="Tasks">Per task: mean batch loss (row-weighted) and, with <see cref="StepOptions.TrackMetrics"/>,
/// RMSE/MAE or accuracy of the predictions made during the steps (before each step's update).</param>
/// <param name="GradientNorm">Root mean square over the steps of the global gradient norm ‖g‖ (after combination,
/// before clipping).</param>
/// <param name="ParameterGradientNorms">The same, per parameter (trunk layers, heads), in layout order.</param>
/// <param name="TaskGradientCosines">cos(gᵢ, gⱼ) of the shared-parameter gradients, the mean over the epoch's steps (per-task path only).</param>
/// <param name="TaskGradientConflicts">For i ≠ j, the steps with gᵢ·gⱼ &lt; 0 (per-task path only).</param>
/// <param name="TaskWeights">The task weights at the last step.</param>
/// <param name="SkippedSteps">Steps skipped (non-finite gradient norm), in total since the optimizer started.</param>
/// <param name="LearningRate">The learning rate the next step will use (default group).</param>
public sealed record StepStatistics(long Steps, long Rows, IReadOnlyList<TaskMetrics> Tasks, double GradientNorm,
    IReadOnlyList<(string Parameter, double Norm)> ParameterGradientNorms, double[,]? TaskGradientCosines,
    int[,]? TaskGradientConflicts, double[] TaskWeights, long SkippedSteps, double LearningRate);

/// <summary>
/// One epoch of <see cref="Trainer.Fit"/>: training metrics (accumulated during the epoch's steps), validation metrics
/// (after the epoch), gradient diagnostics and task weights.
/// </summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="Train">Per-task training metrics (see <see cref="StepStatistics.Tasks"/>).</param>
/// <param name="Validation">Per-task validation metrics, or null without validation data.</param>
/// <param name="GradientNorm">RMS over the epoch's steps of the global gradient norm.</param>
/// <param name="ParameterGradientNorms">RMS over the epoch's steps of each parameter's gradient norm.</param>
/// <param name="TaskGradientCosines">Task-gradient cosines, the mean over the epoch's steps (per-task path only).</param>
/// <param name="TaskWeights">The task weights at the epoch's last step.</param>
/// <param name="Elapsed">Wall time of the epoch (training and validation).</param>
public sealed record EpochReport(int Epoch, int Epochs, IReadOnlyList<TaskMetrics> Train, IReadOnlyList<TaskMetrics>? Validation,
    double GradientNorm, IReadOnlyList<(string Parameter, double Norm)> ParameterGradientNorms,
    double[,]? TaskGradientCosines, double[]? TaskWeights, TimeSpan Elapsed)
{
    /// <summary>Steps in which the trunk gradients of tasks i and j conflicted (gᵢ·gⱼ &lt; 0) this epoch (per-task path only).</summary>
    public int[,]? TaskGradientConflicts { get; init; }

    /// <summary>Σᵢ λᵢ·Lᵢ of the validation losses with the static loss weights (what early stopping watches); null without validation.</summary>
    public double? ValidationLoss { get; init; }

    /// <summary>Σᵢ λᵢ·Lᵢ of the training losses with the static loss weights.</summary>
    public double TrainLoss { get; init; }

    /// <summary>The learning rate at the end of the epoch (default group).</summary>
    public double LearningRate { get; init; }

    /// <summary>Steps this epoch.</summary>
    public long Steps { get; init; }

    /// <summary>Steps skipped so far because the gradient norm was not finite.</summary>
    public long SkippedSteps { get; init; }

    /// <summary>Wall time from the start of training to the end of this epoch.</summary>
    public TimeSpan SinceStart { get; init; }
}

/// <summary>The outcome of <see cref="Trainer.Fit"/>.</summary>
/// <param name="History">The epochs' reports: every epoch up to <see cref="TrainerOptions.MaxHistory"/> of them, beyond
/// that every <see cref="HistoryStride"/>-th plus the last (<see cref="EpochHistory"/>): memory stays bounded.</param>
/// <param name="BestEpoch">The epoch with the lowest validation loss (the last epoch without early stopping).</param>
/// <param name="StoppedEarly">True when early stopping ended training before the last epoch.</param>
/// <param name="OptimizerState">The step's final training state (host copy, <see cref="TrainingStep.SaveState"/>: the optimizer's, and a learned method parameter's values and optimizer state), e.g. for <see cref="MultiTaskModel.Save(string, ModelMetadata?, OptimizerState{float}?)"/>.</param>
public sealed record TrainingResult(IReadOnlyList<EpochReport> History, int BestEpoch, bool StoppedEarly, OptimizerState<float> OptimizerState)
{
    /// <summary>True when the model holds the weights of <see cref="BestEpoch"/> restored by early stopping.</summary>
    public bool RestoredBestWeights { get; init; }

    /// <summary>Epochs run (the count of <see cref="History"/> is smaller when the run outgrew <see cref="TrainerOptions.MaxHistory"/>).</summary>
    public int Epochs { get; init; }

    /// <summary>1 when <see cref="History"/> holds every epoch; else only every HistoryStride-th epoch (and the last) is in it.</summary>
    public int HistoryStride { get; init; } = 1;
}
