using Engine.Autodiff;
using Engine.Kernels;
using Engine.Training;

namespace Engine.Experiments;

/// <summary>
/// Everything one experiment needs: where the data is and which columns play which role, how the rows are
/// split, the model, the optimizer and the training loop. Every field has a default; the defaults train the
/// bundled energy-efficiency dataset to the accuracy stated in docs/results.md in seconds on a CPU.
/// Immutable; it is written as-is into the report (<see cref="ExperimentReport.Settings"/>).
/// </summary>
public sealed record ExperimentSettings
{
    // ---- data ----------------------------------------------------------------------------------------
    /// <summary>The CSV file; null = the bundled energy-efficiency dataset.</summary>
    public string? DataPath { get; init; }

    /// <summary>The field separator; null = detected.</summary>
    public char? Delimiter { get; init; }

    /// <summary>The CSV file's text encoding by name (<see cref="Data.TextEncodings.Resolve"/>); null = UTF-8, where an
    /// invalid byte is an error naming its row and column.</summary>
    public string? TextEncoding { get; init; }

    /// <summary>What a missing target cell means: no label for that task in that row (default), or a load error.</summary>
    public Data.MissingLabels MissingLabels { get; init; } = Data.MissingLabels.Allow;

    /// <summary>The column of per-row sample weights (<c>--weight-column</c>, maths §19.11): every task's loss and the reported
    /// metrics are weighted by it; null = unweighted. Each cell must be a finite number ≥ 0 (a bad cell is a load error naming
    /// the file, row and column).</summary>
    public string? WeightColumn { get; init; }

    /// <summary>What a missing input cell means (maths §19.12): a load error (default), the training mean, or the training mean
    /// plus a 0/1 indicator column per numeric column with a missing training cell.</summary>
    public Data.MissingInputs MissingInputs { get; init; } = Data.MissingInputs.Error;

    /// <summary>Numeric input columns; null = every column that is neither a target nor categorical.</summary>
    public IReadOnlyList<string>? Inputs { get; init; }

    /// <summary>Categorical input columns (one-hot encoded).</summary>
    public IReadOnlyList<string> Categorical { get; init; } = [];

    /// <summary>Categorical input columns the model embeds (<c>--embed COL[:DIM]</c>, <see cref="ModelSpec.Embeddings"/>), in order.</summary>
    public IReadOnlyList<EmbedColumn> Embed { get; init; } = [];

    /// <summary>Regression target columns, one task each.</summary>
    public IReadOnlyList<string> Regression { get; init; } = [];

    /// <summary>Classification label columns, one task each.</summary>
    public IReadOnlyList<string> Classification { get; init; } = [];

    /// <summary>Binary label columns (two classes, one logit, binary cross-entropy), one task each.</summary>
    public IReadOnlyList<string> Binary { get; init; } = [];

    /// <summary>Multi-label tasks (<c>--multilabel [NAME=]COL[,COL…]</c>): each reads k columns of 0/1, one logit per column.</summary>
    public IReadOnlyList<MultiLabelTask> MultiLabel { get; init; } = [];

    /// <summary>The loss of a regression task, by task name (L1, Huber(δ)); a task left out is trained with MSE (maths §19.6).</summary>
    public IReadOnlyDictionary<string, RegressionLoss> Losses { get; init; } = new Dictionary<string, RegressionLoss>();

    /// <summary>Ordered tasks (<c>--task-product</c>, <c>--no-loss</c>; <see cref="ModelSpec.Graph"/>, docs/maths.md §17.6): products
    /// of binary tasks (ESMM's pCTCVR = pCTR·pCVR) and tasks without a loss of their own. Every task it names is a task of
    /// the data (a product task's column holds its own label, e.g. click AND conversion); null = every task independent.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public TaskGraph? Graph { get; init; }

    /// <summary>Label smoothing ε of classification (maths §19.9), binary and multi-label (§19.13) tasks, by task name; overrides <see cref="DefaultLabelSmoothing"/>.</summary>
    public IReadOnlyDictionary<string, double> LabelSmoothing { get; init; } = new Dictionary<string, double>();

    /// <summary>Label smoothing ε of every classification task not in <see cref="LabelSmoothing"/>; null = none.</summary>
    public double? DefaultLabelSmoothing { get; init; }

    /// <summary>Class weights of classification tasks, by task name, in class-index order (maths §19.9).</summary>
    public IReadOnlyDictionary<string, double[]> ClassWeights { get; init; } = new Dictionary<string, double[]>();

    /// <summary>Positive-class weights of binary and multi-label tasks, by task name: one value for every label, or one per
    /// label column (maths §19.10).</summary>
    public IReadOnlyDictionary<string, double[]> PositiveWeights { get; init; } = new Dictionary<string, double[]>();

    /// <summary>Labels removed at random for a partly-labelled experiment (<c>--remove-labels TASK=FRACTION</c>,
    /// <see cref="Data.LabelRemoval"/>): by task name, the fraction in [0, 1) of all rows whose label of that task is removed
    /// after loading and before the split, so every split (train, validation, test) lacks about that fraction and the
    /// metrics count the remaining labelled rows only. Empty = none removed.</summary>
    public IReadOnlyDictionary<string, double> RemoveLabels { get; init; } = new Dictionary<string, double>();

    /// <summary>Which rows <see cref="RemoveLabels"/> draws from: every row before the split (the default), or the training
    /// split only (<c>--remove-labels-from train</c>: validation and test keep their labels).</summary>
    public Data.LabelRemovalScope RemoveLabelsFrom { get; init; }

    /// <summary>Seeds the rows <see cref="RemoveLabels"/> draws (per task, <see cref="Data.LabelRemoval.TaskSeed"/>); null = <see cref="Seed"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public ulong? RemoveLabelsSeed { get; init; }

    /// <summary>Fraction of the rows held out for validation (early stopping, reporting).</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Fraction of the rows held out for the final test metrics.</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Seeds the split, the initial weights and the batch order.</summary>
    public ulong Seed { get; init; } = 42;

    // ---- model ---------------------------------------------------------------------------------------
    /// <summary>Widths of the shared trunk's hidden layers.</summary>
    public IReadOnlyList<int> Hidden { get; init; } = [64, 64];

    /// <summary>The trunk's activation.</summary>
    public Activation Activation { get; init; } = Activation.Relu;

    /// <summary>The shared part (<see cref="ModelSpec.Architecture"/>): null = a shared bottom, whose trunk has the widths
    /// <see cref="Hidden"/>; otherwise <see cref="Hidden"/> are the widths of each expert or column.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Architecture? Architecture { get; init; }

    /// <summary>Widths of every task's tower (<see cref="ModelSpec.Tower"/>); null = no tower.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? Tower { get; init; }

    /// <summary>Dropout probability after every dense layer of the shared part and the towers (<see cref="ModelSpec.Dropout"/>); 0 = none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public double Dropout { get; init; }

    /// <summary>Layer normalization before the activation of every dense layer of the shared part and the towers (<see cref="ModelSpec.LayerNorm"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool LayerNorm { get; init; }

    /// <summary>Task name → its loss weight λ (default 1).</summary>
    public IReadOnlyDictionary<string, double> TaskWeights { get; init; } = new Dictionary<string, double>();

    /// <summary>Task name → its head's own learning rate (default: the global one).</summary>
    public IReadOnlyDictionary<string, double> HeadLearningRates { get; init; } = new Dictionary<string, double>();

    /// <summary>Task name → its head's own weight decay (default: the global one, <see cref="StepOptions.WeightDecay"/>).</summary>
    public IReadOnlyDictionary<string, double> HeadWeightDecays { get; init; } = new Dictionary<string, double>();

    /// <summary>Activation of the trunk's last layer (the features the heads read); null = <see cref="Activation"/>.</summary>
    public Activation? OutputActivation { get; init; }

    /// <summary>How weights and biases start (seeded by <see cref="Seed"/>).</summary>
    public Initializer Initializer { get; init; } = Initializer.PyTorchDefault;

    // ---- training step -----------------------------------------------------------------------------
    /// <summary>
    /// Gradient combination, task weighting, clipping, optimizer and schedule: the engine's own options, with
    /// defaults chosen for the bundled datasets (Adam, lr 0.01, cosine decay to 0 over the run). A cosine
    /// schedule with no DecaySteps decays over the whole run; a step schedule uses ScheduleStepSize.
    /// </summary>
    public StepOptions Step { get; init; } = DefaultStep;

    /// <summary>The default <see cref="Step"/>.</summary>
    public static StepOptions DefaultStep { get; } = new()
    {
        Optimizer = OptimizerKind.Adam,
        LearningRate = 0.01,
        Schedule = ScheduleKind.Cosine,
        MinLearningRate = 0,
    };

    // ---- loop ----------------------------------------------------------------------------------------
    public int Epochs { get; init; } = 300;

    /// <summary>Rows per step; 0 = the whole training split.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Stop after this many epochs without a better validation loss; null = never (needs a validation split).</summary>
    public int? Patience { get; init; }

    /// <summary>Early stopping: an improvement must lower the validation loss by more than this.</summary>
    public double MinDelta { get; init; }

    /// <summary>Early stopping watches this task's validation metric (<c>--monitor TASK:METRIC</c>) instead of the weighted
    /// validation loss; null = the loss.</summary>
    public EarlyStoppingMonitor? Monitor { get; init; }

    /// <summary><c>--combine projection</c>: the task whose gradient the others are made orthogonal to (null = the first task).
    /// By name, since the index into <see cref="StepOptions.ProjectionReferenceTask"/> depends on the task order.</summary>
    public string? ProjectionReference { get; init; }

    /// <summary>Data-parallel training: none, mpi (Open MPI, CPU processes) or nccl (one CUDA GPU per process); the
    /// processes are started by mpirun (docs/scale-out.md).</summary>
    public string Distributed { get; init; } = "none";

    /// <summary>auto, cpu, cuda, opencl or ilgpu-cpu.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>A safetensors file whose weights replace the initial ones (e.g. written by PyTorch).</summary>
    public string? InitWeights { get; init; }

    /// <summary>Where to save the trained model (with standardization, labels and schema); null = not saved.</summary>
    public string? SavePath { get; init; }

    /// <summary>Also train one single-task model per task with the same settings and report Δm.</summary>
    public bool Baselines { get; init; }

    /// <summary>Where to write the JSON report; null = not written.</summary>
    public string? ReportPath { get; init; }
}

/// <summary>One <c>--embed COL[:DIM]</c>: the column and its embedding dimension (null: <see cref="EmbeddingSpec.DefaultDim"/>
/// of its training vocabulary).</summary>
public sealed record EmbedColumn(string Column, int? Dim = null);

/// <summary>One <c>--multilabel [NAME=]COL[,COL…]</c>: a task named <paramref name="Name"/> with one yes/no label per column.</summary>
public sealed record MultiLabelTask(string Name, IReadOnlyList<string> Columns);
