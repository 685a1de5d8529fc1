using Engine.Optimizers;
using System.Diagnostics;
using Engine.Data;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Metrics;

namespace Engine.Training;

/// <summary>
/// Trains a <see cref="MultiTaskModel"/>: epochs of seeded shuffled mini-batches (or full batch) through one
/// <see cref="TrainingStep"/>, per-task training and validation metrics each epoch, early stopping on the validation
/// loss with the best epoch's weights restored, progress reports and cancellation.
/// <para>Data movement: the training and validation sets are uploaded once; each epoch the training rows are
/// reordered host-side and uploaded once (<see cref="DeviceDataset.Reorder"/>); a step reads a contiguous window.
/// Statistics are read once per epoch.</para>
/// </summary>
public sealed class Trainer
{
    /// <summary>Creates a trainer with <paramref name="options"/> (defaults when null).</summary>
    public Trainer(TrainerOptions? options = null)
    {
        Options = options ?? new TrainerOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/>, evaluating on <paramref name="validation"/> after every
    /// epoch; reports each epoch to <paramref name="progress"/> (synchronously, on this thread).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the model keeps the
    /// weights of the last completed step and stays usable.</exception>
    /// <exception cref="ArgumentException">The data does not fit the model, or early stopping is asked for without validation data.</exception>
    /// <exception cref="InvalidOperationException">Another Fit of this model is running.</exception>
    /// <exception cref="TrainingDivergedException">An epoch's training loss of some task is NaN, ±∞ or above
    /// <see cref="TrainerOptions.MaxLoss"/>; the model keeps the weights of the last step.</exception>
    public TrainingResult Fit(MultiTaskModel model, TrainingData train, TrainingData? validation = null,
        IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        if (Options.EarlyStoppingPatience is not null && validation is null)
            throw new ArgumentException("Early stopping watches the validation loss: pass validation data, or set EarlyStoppingPatience to null.", nameof(validation));
        if (Options.Monitor is { } monitor)
        {
            if (Options.EarlyStoppingPatience is null)
                throw new ArgumentException($"TrainerOptions.Monitor ({monitor.Task}:{monitor.Metric}) is what early stopping watches: set EarlyStoppingPatience too.", nameof(Options));
            monitor.Validate(model.Spec.Heads);
        }
        cancellationToken.ThrowIfCancellationRequested();
        model.BeginTraining();
        try { return FitExclusive(model, train, validation, progress, cancellationToken); }
        finally { model.EndTraining(); }
    }

    private TrainingResult FitExclusive(MultiTaskModel model, TrainingData train, TrainingData? validation,
        IProgress<EpochReport>? progress, CancellationToken cancellationToken)
    {
        // Data-parallel (maths §20): this rank keeps its shard of the rows; --batch is the global batch.
        var communicator = Options.Distributed?.Communicator;
        var shards = communicator is null ? null : new RowShards(train.Rows, communicator.Size, ShardSeed(Options.Seed));
        int localBatch = 0;
        // of the GLOBAL rows: the same on every rank; sample weights: the ranks' means weighted by their weight sums (§20)
        bool everyRowLabelled = communicator is not null && train.SampleWeights is null && ShardData.EveryRowLabelled(train);
        if (communicator is not null)
        {
            localBatch = Options.BatchSize == 0 || Options.BatchSize >= train.Rows ? 0 : Math.Max(1, Options.BatchSize / communicator.Size);
            if (communicator.Size > 1)
            {
                train = ShardData.Select(train, shards!.RowsOf(communicator.Rank));
                if (validation is not null) validation = ShardData.Select(validation, ValidationBlock(validation.Rows, communicator));
            }
        }

        int rows = train.Rows;
        int batch = shards is not null ? shards.MaxStepRows(localBatch)
            : Options.BatchSize == 0 || Options.BatchSize >= rows ? rows : Options.BatchSize;
        int batches = shards?.Steps(localBatch) ?? (rows + batch - 1) / batch;
        bool shuffled = shards is not null ? batches > 1 : batch < rows;
        var backend = model.Backend;
        var heads = model.Spec.Heads;

        using var trainDevice = DeviceDataset.Upload(model, train, nameof(train), shuffleable: shuffled);
        using var validDevice = validation is null ? null : DeviceDataset.Upload(model, validation, nameof(validation));
        using var step = new TrainingStep(model, Options.Step, batch, (long)Options.Epochs * batches, communicator, everyRowLabelled);
        var weightCheck = communicator is null ? null : new WeightCheck(model, communicator, Options.Distributed!.WeightCheckSteps);
        if (communicator is not null) communicator.Broadcast(model.Parameters.Values, 0);   // every rank starts from rank 0's weights
        if (Options.InitialOptimizerState is { } state) step.LoadState(state);   // learned method parameters (uncertainty's sᵢ) too
        if (step.Plateau is not null && communicator is not null && validation is null)
            throw new ArgumentException("The plateau schedule of a distributed run watches the validation loss (the training loss is each rank's own): pass validation data.", nameof(validation));
        using var evaluator = validation is null ? null : new Evaluator(model);
        using var best = Options.EarlyStoppingPatience is null ? null : backend.Allocate<float>(model.Parameters.Count);

        var history = new EpochHistory(Options.MaxHistory);
        var started = Stopwatch.StartNew();
        int bestEpoch = 0;
        bool lowerIsBetter = Options.Monitor?.LowerIsBetter ?? true;    // the weighted loss, or the monitored metric
        double bestValue = lowerIsBetter ? double.PositiveInfinity : double.NegativeInfinity;
        bool stoppedEarly = false;
        var losses = new double[heads.Count];
        var accuracies = new double[heads.Count];
        var order = shuffled ? new int[rows] : [];
        for (int epoch = 1; epoch <= Options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            if (shuffled)
            {
                DataSplit.Permutation(order, EpochSeed(Options.Seed ^ RankSeed(communicator), epoch));
                trainDevice.Reorder(order);
            }
            step.ResetStatistics();
            for (int b = 0; b < batches; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (shards is null)
                {
                    int first = b * batch;
                    step.Run(trainDevice, first, Math.Min(batch, rows - first));
                }
                else
                {
                    step.Run(trainDevice, b * localBatch, shards.StepRows(communicator!.Rank, b, localBatch), shards.GlobalStepRows(b, localBatch));
                    weightCheck!.AfterStep();
                }
            }
            weightCheck?.Check();
            var statistics = step.ReadStatistics();
            var validationMetrics = evaluator?.Evaluate(validDevice!, communicator);

            for (int t = 0; t < heads.Count; t++)
            {
                losses[t] = statistics.Tasks[t].Loss;
                accuracies[t] = statistics.Tasks[t].Accuracy ?? 0;
            }
            if ((step.Plan.Needs & (MethodNeeds.EpochLosses | MethodNeeds.EpochAccuracies)) != 0 && AllFinite(losses))
                step.EndEpoch(losses, accuracies);

            double? validationLoss = validationMetrics is null ? null : WeightedLoss(heads, validationMetrics);
            var report = new EpochReport(epoch, Options.Epochs, statistics.Tasks, validationMetrics, statistics.GradientNorm,
                statistics.ParameterGradientNorms, statistics.TaskGradientCosines, statistics.TaskWeights, clock.Elapsed)
            {
                TaskGradientConflicts = statistics.TaskGradientConflicts,
                ValidationLoss = validationLoss,
                TrainLoss = WeightedLoss(heads, statistics.Tasks),
                LearningRate = statistics.LearningRate,
                Steps = statistics.Steps,
                SkippedSteps = statistics.SkippedSteps,
                SinceStart = started.Elapsed,
            };
            history.Add(report);
            progress?.Report(report);
            ThrowIfDiverged(epoch, heads, statistics.Tasks);
            // Reduce on plateau: the weighted validation loss (the same on every rank), or the training loss without
            // validation data; the new rate applies from the next epoch's first step.
            step.Plateau?.Observe(validationLoss ?? report.TrainLoss);

            if (best is not null)
            {
                double? watched = Options.Monitor is null ? validationLoss : Options.Monitor.Read(validationMetrics!);
                if (watched is { } value && (lowerIsBetter ? value < bestValue - Options.EarlyStoppingMinDelta : value > bestValue + Options.EarlyStoppingMinDelta))
                {
                    bestValue = value;
                    bestEpoch = epoch;
                    backend.Copy(model.Parameters.Values, best.View);
                }
                else if (epoch - bestEpoch >= Options.EarlyStoppingPatience)
                {
                    stoppedEarly = epoch < Options.Epochs;
                    break;
                }
            }
            else bestEpoch = epoch;
        }

        bool restored = false;
        if (best is not null && bestEpoch > 0 && bestEpoch != history.Epochs)
        {
            backend.Copy(best.View, model.Parameters.Values);
            restored = true;
        }
        return new TrainingResult(history.Reports(), bestEpoch, stoppedEarly, step.SaveState())
        {
            RestoredBestWeights = restored,
            Epochs = history.Epochs,
            HistoryStride = history.Stride,
        };
    }

    /// <summary>A task's epoch loss that is NaN, ±∞ or above <see cref="TrainerOptions.MaxLoss"/> ends training.</summary>
    private void ThrowIfDiverged(int epoch, IReadOnlyList<TaskHead> heads, IReadOnlyList<TaskMetrics> tasks)
    {
        for (int t = 0; t < heads.Count; t++)
        {
            double loss = tasks[t].Loss;
            if (double.IsFinite(loss) && loss <= Options.MaxLoss) continue;
            string why = double.IsFinite(loss) ? $"is {loss:G4}, above the bound of {Options.MaxLoss:G4}" : $"is {loss}";
            throw new TrainingDivergedException($"training diverged at epoch {epoch}: the training loss of task '{heads[t].Name}' {why}.",
                epoch, heads[t].Name, loss);
        }
    }

    /// <summary>Σᵢ λᵢ·Lᵢ with the static loss weights of the heads.</summary>
    private static double WeightedLoss(IReadOnlyList<TaskHead> heads, IReadOnlyList<TaskMetrics> metrics)
    {
        double total = 0;
        for (int t = 0; t < heads.Count; t++) total += heads[t].LossWeight * metrics[t].Loss;
        return total;
    }

    private static bool AllFinite(double[] values) => values.All(double.IsFinite);

    /// <summary>The seed of the permutation that cuts the rows into shards (distinct from the epochs' seeds).</summary>
    private static ulong ShardSeed(ulong seed) => RowShards.SeedFor(seed);

    /// <summary>Ranks shuffle their shards with distinct seeds; a plain run (or rank 0) with the plain seed.</summary>
    private static ulong RankSeed(ICommunicator? communicator) => communicator is null ? 0 : 0xA0761D6478BD642FUL * (ulong)communicator.Rank;

    /// <summary>Rank r's validation rows: the r-th of P consecutive blocks (validation order does not matter: the sums are added).</summary>
    private static int[] ValidationBlock(int rows, ICommunicator communicator)
    {
        int p = communicator.Size, r = communicator.Rank;
        if (rows < p) throw new ArgumentException($"The validation set has {rows} rows, fewer than the {p} ranks: every rank evaluates at least one.", "validation");
        int start = r * (rows / p) + Math.Min(r, rows % p), length = rows / p + (r < rows % p ? 1 : 0);
        return [.. Enumerable.Range(start, length)];
    }

    /// <summary>A distinct 64-bit seed for each epoch's permutation (SplitMix64's golden-ratio increment).</summary>
    private static ulong EpochSeed(ulong seed, int epoch) => seed + 0x9E3779B97F4A7C15UL * (ulong)epoch;
}
