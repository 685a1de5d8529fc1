using System.Diagnostics;
using System.Reflection;
using Engine.Data;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Training;

namespace Engine.Experiments;

/// <summary>The settings do not fit the data: a task named in a flag that the data lacks, no task at all, a column
/// with two roles. The message says what to change.</summary>
public sealed class ExperimentSetupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An experiment's outcome: the report and the trained multi-task model (dispose it).</summary>
public sealed class ExperimentOutcome(ExperimentReport report, MultiTaskModel model, PreparedData data) : IDisposable
{
    /// <summary>What was done and measured.</summary>
    public ExperimentReport Report { get; } = report;

    /// <summary>The trained multi-task model.</summary>
    public MultiTaskModel Model { get; } = model;

    /// <summary>The data, its split and its standardization.</summary>
    public PreparedData Data { get; } = data;

    /// <summary>The multi-task model's training run: every epoch's report (losses, metrics, gradient norms, task
    /// weights, cosines), e.g. for <c>Engine.Plots.TrainingPlots.Write</c>.</summary>
    public TrainingResult? Training { get; init; }

    /// <summary>Saves the model with everything prediction needs: standardization, label maps, schema, and the settings.</summary>
    public void SaveModel(string path) => Experiment.SaveModel(Model, Data, Report.Settings, path);

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}

/// <summary>
/// The experiment pipeline: CSV → schema → seeded split → standardization fitted on the training split only →
/// multi-task model → <see cref="Trainer.Fit"/> → per-task metrics on train/validation/test in original units →
/// optionally one single-task model per task with the same settings, and Δm (<see cref="MultiTaskGain"/>).
/// </summary>
public static class Experiment
{
    /// <summary>
    /// The training loss per task above which a run counts as diverged (<see cref="TrainerOptions.MaxLoss"/>). The
    /// targets are standardized on the training split, so predicting the mean scores a loss of about 1 (mean squared
    /// error of unit-variance targets; cross-entropy ln K): 10⁶ means predictions thousands of standard deviations off.
    /// </summary>
    public const double MaxStandardizedLoss = 1e6;

    /// <summary>The checkpoint property that holds the settings a model was trained with (JSON).</summary>
    public const string SettingsProperty = "mtl.settings";

    /// <summary>Runs the experiment the settings describe on <paramref name="backend"/>.</summary>
    /// <param name="settings">What to run.</param>
    /// <param name="backend">The device (the caller owns it).</param>
    /// <param name="progress">Called once per training run with its label ("multi-task", or the task of a
    /// baseline) and its epoch count; returns where that run's epoch reports go (or null).</param>
    /// <param name="cancellation">Stops training; the method then throws <see cref="OperationCanceledException"/>.</param>
    public static ExperimentOutcome Run(ExperimentSettings settings, Backend<float> backend,
        Func<string, int, IProgress<EpochReport>?>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var data = PreparedData.Load(settings);
        return Run(settings, data, backend, progress, cancellation);
    }

    /// <summary>Runs the experiment on data already loaded and split. <paramref name="trained"/>, when given, is called with the
    /// multi-task run's history as soon as it is trained, before the splits are scored (the CLI starts drawing its plots there,
    /// so that they are drawn while the scores and tables are made).</summary>
    public static ExperimentOutcome Run(ExperimentSettings settings, PreparedData data, Backend<float> backend,
        Func<string, int, IProgress<EpochReport>?>? progress = null, CancellationToken cancellation = default,
        Engine.Distributed.ICommunicator? communicator = null, Action<TrainingResult>? trained = null)
    {
        CheckSettings(settings, data);
        var watch = Stopwatch.StartNew();
        var model = Train(settings, data, TaskNames(settings, data.All), backend,
            progress?.Invoke("multi-task", settings.Epochs), cancellation, out var result, communicator);
        try
        {
            double seconds = watch.Elapsed.TotalSeconds;
            trained?.Invoke(result);
            var metrics = ScoreSplits(model, data);
            var baselines = settings.Baselines ? TrainBaselines(settings, data, metrics, backend, progress, cancellation, communicator) : null;
            var report = new ExperimentReport
            {
                EngineVersion = typeof(Experiment).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
                Finished = DateTimeOffset.UtcNow,
                Device = backend.Info.ToString(),
                Settings = settings,
                Data = DataSummary.Of(data),
                Metrics = metrics,
                History = Summarize(result.History),
                Epochs = result.Epochs,
                HistoryStride = result.HistoryStride,
                BestEpoch = result.BestEpoch,
                StoppedEarly = result.StoppedEarly,
                Seconds = seconds,
                Baselines = baselines,
            };
            return new ExperimentOutcome(report, model, data) { Training = result };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One single-task model per task, with the same settings, rows, split and standardization as the multi-task model,
    /// and Δm of the multi-task model's test metrics against theirs. With ordered tasks (maths §17.6) a baseline is the task
    /// trained on its own label as a plain task of its kind, as ESMM's own baselines: the settings without the graph, so a
    /// product task is a plain binary task with its own tower and output layer and a tower that read other tasks reads only
    /// the shared part; a task without a loss (<c>--no-loss</c>) has no baseline, and Δm is over the tasks with a loss.
    /// </summary>
    private static BaselineReport TrainBaselines(ExperimentSettings settings, PreparedData data, SplitScores multiTask, Backend<float> backend,
        Func<string, int, IProgress<EpochReport>?>? progress, CancellationToken cancellation, Engine.Distributed.ICommunicator? communicator)
    {
        var unsupervised = settings.Graph?.Unsupervised ?? [];
        var plain = settings.Graph is null ? settings : settings with { Graph = null };   // without a graph: the settings as they are
        var runs = new List<BaselineRun>();
        foreach (var task in data.All.Tasks.Where(t => !unsupervised.Contains(t.Name)))
        {
            var single = data.WithOnlyTask(task.Name);
            var watch = Stopwatch.StartNew();
            using var model = Train(plain, single, [task.Name], backend,
                progress?.Invoke($"single-task {task.Name}", settings.Epochs), cancellation, out var result, communicator);
            double seconds = watch.Elapsed.TotalSeconds;
            runs.Add(new BaselineRun(task.Name, ScoreSplits(model, single), result.BestEpoch, seconds));
        }
        var withLoss = unsupervised.Count == 0 ? multiTask.Test : [.. multiTask.Test.Where(m => !unsupervised.Contains(m.Task))];
        var (gains, deltaM) = MultiTaskGain.Compute(withLoss, runs.SelectMany(r => r.Metrics.Test).ToArray());
        return new BaselineReport(deltaM, gains, runs);
    }

    /// <summary>The data's tasks, then the loss-free tasks of the graph that have no column (ESMM's CVR from a file with only
    /// click and click-and-convert labels: <c>--no-loss cvr</c>, maths §17.6).</summary>
    public static string[] TaskNames(ExperimentSettings settings, Dataset data) =>
        [.. data.Tasks.Select(t => t.Name), .. (settings.Graph?.Unsupervised ?? []).Where(u => !data.Tasks.Any(t => t.Name == u))];

    /// <summary>The model for the given tasks of the data, as the settings describe it (heads in task order).</summary>
    public static ModelSpec Spec(ExperimentSettings settings, Dataset data, IReadOnlyList<string> tasks)
    {
        foreach (var (task, loss) in settings.Losses) // --loss names a regression task of the data (maths §19.6)
            if (!data.Tasks.Any(t => t.Name == task && t is RegressionTargets))
                throw new ArgumentException($"Loss {loss} for '{task}': the data has no regression task of that name (regression tasks: {string.Join(", ", data.Tasks.OfType<RegressionTargets>().Select(t => t.Name))}).", nameof(settings));
        return SpecOf(settings, data, tasks);
    }

    /// <summary>--class-weights of a task: one per class of a classification task (the error names the classes in order).</summary>
    private static double[] ClassWeightsOf(string task, double[] weights, TaskTargets targets)
    {
        if (targets is not ClassTargets { Kind: TaskKind.Classification } classes)
            throw new ExperimentSetupException($"--class-weights {task}: '{task}' is a {targets.Kind} task; class weights apply to classification tasks.");
        if (weights.Length != classes.ClassCount)
            throw new ExperimentSetupException($"--class-weights {task}: {weights.Length} weights for {classes.ClassCount} classes; give one per class, in the order {string.Join(", ", classes.Labels.Labels)}.");
        return weights;
    }

    /// <summary>--pos-weight of a binary or multi-label task: one value for every label, or one per label.</summary>
    private static double[] PositiveWeightsOf(string task, double[] weights, TaskKind kind, int labels)
    {
        if (kind is not (TaskKind.Binary or TaskKind.MultiLabel))
            throw new ExperimentSetupException($"--pos-weight {task}: '{task}' is a {kind} task; positive weights apply to binary and multi-label tasks.");
        if (weights.Length == 1) return [.. Enumerable.Repeat(weights[0], labels)];
        if (weights.Length != labels)
            throw new ExperimentSetupException($"--pos-weight {task}: {weights.Length} weights for {labels} labels; give one for all or one per label.");
        return weights;
    }

    private static ModelSpec SpecOf(ExperimentSettings settings, Dataset data, IReadOnlyList<string> tasks) =>
        new(data.InputCount, settings.Hidden.ToArray(), tasks.Select(name =>
        {
            if (settings.Graph?.Unsupervised.Contains(name) == true && !data.Tasks.Any(t => t.Name == name))
                return TaskHead.Binary(name);   // a loss-free task without a column: a factor of a product (§17.6)
            var targets = data.Task(name);
            int outputs = targets switch
            {
                RegressionTargets r => r.Width,
                MultiLabelTargets m => m.Width,
                ClassTargets { Kind: TaskKind.Binary } => 1,
                _ => ((ClassTargets)targets).ClassCount,
            };
            return new TaskHead(name, targets.Kind, outputs,
                settings.TaskWeights.TryGetValue(name, out var w) ? w : 1.0,
                settings.HeadLearningRates.TryGetValue(name, out var lr) ? lr : null,
                settings.HeadWeightDecays.TryGetValue(name, out var decay) ? decay : null)
            {
                Loss = settings.Losses.TryGetValue(name, out var loss) ? loss : null,
                LabelSmoothing = targets.Kind is not (TaskKind.Classification or TaskKind.Binary or TaskKind.MultiLabel) ? null
                    : settings.LabelSmoothing.TryGetValue(name, out var eps) ? eps
                    : targets.Kind == TaskKind.Classification ? settings.DefaultLabelSmoothing : null,   // EPS alone: the classification tasks
                ClassWeights = settings.ClassWeights.TryGetValue(name, out var classWeights) ? ClassWeightsOf(name, classWeights, targets) : null,
                PositiveWeights = settings.PositiveWeights.TryGetValue(name, out var positive) ? PositiveWeightsOf(name, positive, targets.Kind, outputs) : null,
            };
        }).ToArray())
        {
            TrunkActivation = settings.Activation,
            TrunkOutputActivation = settings.OutputActivation,
            Architecture = settings.Architecture,
            Tower = settings.Tower,
            Dropout = settings.Dropout,
            LayerNorm = settings.LayerNorm,
            Embeddings = Embeddings(settings, data),
            Graph = settings.Graph,
            Initializer = settings.Initializer,
            Seed = settings.Seed,
        };

    /// <summary>The embedded columns in the data's order (the schema's), with the dimensions the settings give them.</summary>
    private static EmbeddingSpec[]? Embeddings(ExperimentSettings settings, Dataset data)
    {
        if (data.Schema.EmbeddedInputs.Count == 0) return null;
        return [.. data.Schema.EmbeddedInputs.Select(column =>
        {
            int categories = data.Encoding.Categories[column].Count;
            int? dim = settings.Embed.FirstOrDefault(e => e.Column == column)?.Dim;
            return new EmbeddingSpec(column, categories, dim ?? EmbeddingSpec.DefaultDim(categories));
        })];
    }

    /// <summary>Saves a trained model with its preprocessing and settings, atomically.</summary>
    public static void SaveModel(MultiTaskModel model, PreparedData data, ExperimentSettings settings, string path) =>
        model.Save(path, new ModelMetadata(data.Standardization, data.All.Encoding, data.All.Schema,
            new Dictionary<string, string> { [SettingsProperty] = System.Text.Json.JsonSerializer.Serialize(settings, ExperimentReport.Json) }));

    private static MultiTaskModel Train(ExperimentSettings settings, PreparedData data, IReadOnlyList<string> tasks, Backend<float> backend,
        IProgress<EpochReport>? progress, CancellationToken cancellation, out TrainingResult result, Engine.Distributed.ICommunicator? communicator)
    {
        var spec = Spec(settings, data.All, tasks);
        MultiTaskModel model;
        try { model = MultiTaskModel.Create(spec, backend); }
        catch (ArgumentException e) { throw new ExperimentSetupException(e.Message, e); } // e.g. a class column with one label
        try { settings.Monitor?.Validate(spec.Heads); }
        catch (ArgumentException e) { model.Dispose(); throw new ExperimentSetupException(e.Message, e); }  // the task or metric, named
        try
        {
            if (settings.InitWeights is { } initial)
            {
                try { model.LoadWeights(initial); }
                catch (Exception e) when (e is ArgumentException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new ExperimentSetupException($"{initial}: the weights do not fit the model: {e.Message}", e);
                }
            }
            int reference = settings.ProjectionReference is { } name ? Math.Max(0, spec.IndexOf(name)) : 0;
            var options = new TrainerOptions
            {
                Epochs = settings.Epochs,
                MaxLoss = MaxStandardizedLoss,
                BatchSize = settings.BatchSize,
                Seed = settings.Seed,
                Step = settings.Step with { ProjectionReferenceTask = reference },
                EarlyStoppingPatience = settings.Patience,
                EarlyStoppingMinDelta = settings.MinDelta,
                Monitor = settings.Monitor,
                Distributed = communicator is null ? null : new Engine.Distributed.DistributedOptions { Communicator = communicator },
            };
            var train = TrainingData.FromDataset(data.Train, data.Standardization);
            var validation = data.Validation.RowCount > 0 ? TrainingData.FromDataset(data.Validation, data.Standardization) : null;
            try { result = new Trainer(options).Fit(model, train, validation, progress, cancellation); }
            catch (ArgumentException e)
            {
                // The engine validates the options against the model (e.g. accuracy weighting needs classification
                // tasks only); its message names the option.
                throw new ExperimentSetupException(e.Message, e);
            }
            cancellation.ThrowIfCancellationRequested();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static SplitScores ScoreSplits(MultiTaskModel model, PreparedData data) => new(
        ModelEvaluation.Score(model, data.RawTrain, data.Standardization, data.All.Encoding),
        ModelEvaluation.Score(model, data.RawValidation, data.Standardization, data.All.Encoding),
        ModelEvaluation.Score(model, data.RawTest, data.Standardization, data.All.Encoding));

    /// <summary>The trainer's epoch reports as JSON-friendly records, with the time since training started.</summary>
    private static EpochSummary[] Summarize(IReadOnlyList<EpochReport> history)
    {
        var summaries = new EpochSummary[history.Count];
        for (int i = 0; i < history.Count; i++)
        {
            var e = history[i];
            double seconds = e.SinceStart.TotalSeconds;
            summaries[i] = new EpochSummary(e.Epoch, e.TrainLoss, e.ValidationLoss, e.Train.Select(Metrics).ToArray(),
                e.Validation?.Select(Metrics).ToArray(), e.GradientNorm, e.LearningRate, e.TaskWeights, e.SkippedSteps, seconds)
            {
                TaskGradientCosines = Rows(e.TaskGradientCosines),
                TaskGradientConflicts = Rows(e.TaskGradientConflicts),
            };
        }
        return summaries;
    }

    /// <summary>A [T × T] matrix as T rows (System.Text.Json cannot write a rectangular array).</summary>
    private static TValue[][]? Rows<TValue>(TValue[,]? matrix) => matrix is null ? null
        : Enumerable.Range(0, matrix.GetLength(0)).Select(i => Enumerable.Range(0, matrix.GetLength(1)).Select(j => matrix[i, j]).ToArray()).ToArray();

    private static EpochTaskMetrics Metrics(TaskMetrics m) => new(m.Task, m.Loss, m.Rmse, m.Mae, m.Accuracy)
    { Auc = m.Auc, F1 = m.F1, RSquared = m.RSquared };

    /// <summary>
    /// A product task's label must be the AND of its factors' labels wherever they say something (ESMM: a conversion
    /// needs a click): label 1 with a factor labelled 0, or label 0 with every factor labelled 1, is bad data, named by
    /// file, row and column. A factor without a label in that row (ESMM's conversion where there was no click) constrains
    /// nothing. Tasks the graph names but the data lacks are left to the model's own check.
    /// </summary>
    private static void CheckProductLabels(TaskGraph graph, Dataset data)
    {
        foreach (var (product, factors) in graph.Products)
        {
            if (data.Tasks.FirstOrDefault(t => t.Name == product) is not ClassTargets { Kind: TaskKind.Binary } y) continue;
            var f = factors.Select(n => data.Tasks.FirstOrDefault(t => t.Name == n)).OfType<ClassTargets>().Where(c => c.Kind == TaskKind.Binary).ToArray();
            if (f.Length != factors.Length) continue;
            for (int r = 0; r < data.RowCount; r++)
            {
                int label = y.Classes[r];
                if (label == ClassTargets.Missing) continue;
                var zero = f.FirstOrDefault(c => c.Classes[r] == 0);
                if (label == 1 && zero is not null || label == 0 && f.All(c => c.Classes[r] == 1))
                    throw new DataFileException(data.Source, data.SourceLines[r], y.Column,
                        $"'{product}' is the product {string.Join("·", factors)} (--task-product), so its label must be the AND of theirs: it is {Excerpt.Quote(y.Labels.LabelOf(label))} where " +
                        (zero is not null ? $"'{zero.Name}' is {Excerpt.Quote(zero.Labels.LabelOf(0))}." : $"every factor is positive ({string.Join(", ", f.Select(c => $"{c.Name} = {Excerpt.Quote(c.Labels.LabelOf(1))}"))})."));
            }
        }
    }

    /// <summary>Every task named in a setting must be a task of the data; baselines need test rows.</summary>
    private static void CheckSettings(ExperimentSettings settings, PreparedData prepared)
    {
        var data = prepared.All;
        if (data.Tasks.Count == 0) throw new ExperimentSetupException($"{data.Source}: no task to train; name target columns (--regression, --classification).");
        if (settings.Baselines && prepared.Test.RowCount == 0)
            throw new ExperimentSetupException("Baselines compare test metrics: the test fraction must be above 0.");
        var names = data.Tasks.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        IEnumerable<string> reference = settings.ProjectionReference is { } r ? [r] : [];
        foreach (var (flag, keys) in new[] { ("--task-weight", settings.TaskWeights.Keys), ("--head-lr", settings.HeadLearningRates.Keys),
                     ("--head-decay", settings.HeadWeightDecays.Keys),
                     ("--projection-reference", reference) })
            foreach (var key in keys)
                if (!names.Contains(key))
                    throw new ExperimentSetupException($"{flag} names task '{key}', but the tasks are: {string.Join(", ", names)}.");
        if (settings.Graph is { } graph) CheckProductLabels(graph, data);
        var regression = data.Tasks.OfType<RegressionTargets>().Select(t => t.Name).ToArray();
        var classification = data.Tasks.Where(t => t.Kind == TaskKind.Classification).Select(t => t.Name).ToArray();
        var smoothable = data.Tasks.Where(t => t.Kind is TaskKind.Classification or TaskKind.Binary or TaskKind.MultiLabel).Select(t => t.Name).ToArray();
        foreach (var task in settings.LabelSmoothing.Keys)
            if (!smoothable.Contains(task))
                throw new ExperimentSetupException($"--label-smoothing names '{task}', but the classification, binary and multi-label tasks are: {(smoothable.Length > 0 ? string.Join(", ", smoothable) : "none")}.");
        foreach (var task in settings.ClassWeights.Keys)
            if (!classification.Contains(task))
                throw new ExperimentSetupException($"--class-weights names '{task}', but the classification tasks are: {(classification.Length > 0 ? string.Join(", ", classification) : "none")}.");
        var logistic = data.Tasks.Where(t => t.Kind is TaskKind.Binary or TaskKind.MultiLabel).Select(t => t.Name).ToArray();
        foreach (var task in settings.PositiveWeights.Keys)
            if (!logistic.Contains(task))
                throw new ExperimentSetupException($"--pos-weight names '{task}', but the binary and multi-label tasks are: {(logistic.Length > 0 ? string.Join(", ", logistic) : "none")}.");
        foreach (var (task, loss) in settings.Losses)
            if (!regression.Contains(task))
                throw new ExperimentSetupException($"--loss {task}:{loss} names '{task}', but the regression tasks are: {(regression.Length > 0 ? string.Join(", ", regression) : "none")}.");
    }
}
