using System.CommandLine;
using Engine.Autodiff;
using System.Globalization;
using Engine.Experiments;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Training;

namespace Engine.Cli.Commands;

/// <summary>
/// The flags of <c>mtl train</c>: one per trainer option. Parsing (types, allowed names) is
/// System.CommandLine's and fails with exit code 2; <see cref="Bind"/> then checks ranges and turns the
/// values into <see cref="ExperimentSettings"/>, throwing <see cref="UsageException"/> (also exit 2).
/// A flag left out keeps the <see cref="ExperimentSettings"/> default.
/// </summary>
internal sealed class TrainFlags
{
    private static readonly ExperimentSettings Defaults = new();
    private static readonly StepOptions DefaultStep = ExperimentSettings.DefaultStep;

    // data
    public readonly Option<string?> Data = new("--data") { Description = "The CSV file (default: the bundled energy-efficiency data).", HelpName = "FILE.csv" };
    public readonly Option<string?> Delimiter = SharedFlags.Delimiter();
    public readonly Option<string?> Encoding = SharedFlags.Encoding();
    public readonly Option<string[]> Inputs = List("--inputs", "Numeric input columns (default: every column that is not a target or categorical).");
    public readonly Option<string[]> Categorical = List("--categorical", "Categorical input columns (one-hot encoded).");
    public readonly Option<string[]> Embed = List("--embed", "Categorical input columns the model embeds, as COL or COL:DIM (a learned table of DIM features per category, shared by all tasks; vocabulary from the training split, unseen categories read a reserved row; default DIM min(600, round(1.6·n^0.56)) for n categories).", "COL[:DIM]");
    public readonly Option<string[]> Regression = List("--regression", "Regression target columns, one task each.");
    public readonly Option<string[]> Classification = List("--classification", "Classification label columns, one task each.");
    public readonly Option<string[]> Binary = List("--binary", "Binary label columns (exactly two classes; one logit, binary cross-entropy), one task each.");
    public readonly Option<string[]> MultiLabel = List("--multilabel", "A multi-label task: k label columns of 0/1 (empty or NA: no label), one logit each, binary cross-entropy per label; NAME= names the task (default: its first column). Repeat per task.", "[NAME=]COL[,COL…]");
    public readonly Option<string[]> TaskProduct = List("--task-product", "A binary task defined as the product of other binary tasks' probabilities, as NAME=A*B[*C…] (ESMM, Ma et al. 2018: --task-product ctcvr=ctr*cvr). NAME is a --binary column holding its own label, the AND of its factors' labels; it has no tower or output layer and is trained with the binary cross-entropy of the product. Repeat per product.", "NAME=A*B[*C…]");
    public readonly Option<string[]> NoLoss = List("--no-loss", "Tasks without a loss of their own, trained only through the products (or undetached --task-input towers) that read them (ESMM's CVR: --no-loss cvr); their labels, where a row has one, are only scored; a binary task with no column may be named here (it is then predicted, not scored).", "TASK[,TASK…]");
    public readonly Option<string[]> TaskInput = List("--task-input", "A task whose tower also reads other tasks' predictions, as TASK=SRC[,SRC…] (ordered tasks: its first layer reads [h | a₁ | …], aₛ a binary or multi-label source's probability, a product's p, a regression's value; gradients flow into the sources unless --detach-task-inputs). Repeat per task.", "TASK=SRC[,SRC…]");
    public readonly Option<bool> DetachTaskInputs = new("--detach-task-inputs") { Description = "Towers read their --task-input predictions detached: the reading task's loss does not train the source tasks (default: end to end, as ESMM and AITM)." };
    public readonly Option<string[]> Loss = List("--loss", "A regression task's loss, as TASK:mse, TASK:l1, TASK:huber or TASK:huber:DELTA (δ in standardized units, default 1; repeat per task; default mse).", "TASK:LOSS");
    public readonly Option<string[]> LabelSmoothing = List("--label-smoothing", "Label smoothing ε ∈ [0, 1] of classification tasks (PyTorch's CrossEntropyLoss(label_smoothing=ε): target (1 − ε)·onehot + ε/K) and binary tasks (Keras' BinaryCrossentropy(label_smoothing=ε): target y(1 − ε) + ε/2), as EPS for every --classification task or TASK:EPS for a --classification, --binary or --multilabel task (a multi-label task's every label smoothed alike; repeat per task; a TASK:EPS overrides EPS). Not for --task-product tasks.", "[TASK:]EPS");
    public readonly Option<string[]> ClassWeights = List("--class-weights", "A classification task's class weights, as TASK:W0,W1,… in class order (labels sorted: numerically when all are integers, else by ordinal string order); finite, ≥ 0, not all 0 (PyTorch's CrossEntropyLoss(weight=w): the mean divides by Σ w of the rows' classes; repeat per task).", "TASK:W0,W1,…");
    public readonly Option<string[]> PosWeight = List("--pos-weight", "A binary or multi-label task's positive-class weight, as TASK:P (every label) or TASK:P0,P1,… (one per label column, in --multilabel order); finite, ≥ 0 (PyTorch's BCEWithLogitsLoss(pos_weight=p): the positive term times p, the mean still over the labelled entries; repeat per task).", "TASK:P[,P…]");
    public readonly Option<string[]> RemoveLabels = List("--remove-labels", "Remove labels at random, for a partly-labelled experiment: TASK=FRACTION, FRACTION in [0, 1), removes the label of TASK from round(FRACTION·rows) rows of the file, drawn before the split (so from every split; the metrics count the labelled rows left). Seeded by --remove-labels-seed (default --seed), each task its own draw. Repeat or comma-separate per task.", "TASK=FRACTION[,TASK=FRACTION…]");
    public readonly Option<string> RemoveLabelsFrom = Choice("--remove-labels-from", "Which rows --remove-labels draws from: all (every row of the file, before the split: every split loses about the fraction) or train (the training split only: validation and test keep every label, so the run is scored on the same rows as one without removal).", Engine.Data.LabelRemovalScope.All);
    public readonly Option<ulong?> RemoveLabelsSeed = new("--remove-labels-seed") { HelpName = "N", Description = "Seeds the rows --remove-labels draws (default: --seed), so the same labels can be removed while --seed varies the split and the weights." };
    public readonly Option<double> Validation = new("--validation") { HelpName = "FRACTION", Description = "Fraction of rows held out for validation.", DefaultValueFactory = _ => Defaults.ValidationFraction };
    public readonly Option<double> Test = new("--test") { HelpName = "FRACTION", Description = "Fraction of rows held out for the test metrics.", DefaultValueFactory = _ => Defaults.TestFraction };
    public readonly Option<ulong> Seed = new("--seed") { HelpName = "N", Description = "Seeds the split, the initial weights and the batch order.", DefaultValueFactory = _ => Defaults.Seed };

    // model
    public readonly Option<string> Hidden = new("--hidden") { Description = "Hidden layer widths of the shared trunk (at least one layer), e.g. 64,64.", HelpName = "W1,W2,…", DefaultValueFactory = _ => string.Join(',', Defaults.Hidden) };
    public readonly Option<string> Activation = Choice("--activation", "The trunk's activation.", Defaults.Activation);
    public readonly Option<string[]> TaskWeight = List("--task-weight", "A task's loss weight λ, as name=w (repeat per task).", "NAME=W");
    public readonly Option<string[]> HeadLr = List("--head-lr", "A task head's own learning rate, as name=lr (repeat per task).", "NAME=LR");
    public readonly Option<string[]> HeadDecay = List("--head-decay", "A task head's own weight decay, as name=λ (repeat per task; default: --weight-decay).", "NAME=L");
    public readonly Option<string?> OutputActivation = OptionalChoice<Activation>("--output-activation", "Activation of the trunk's last layer, the features the heads read (default: --activation).");
    public readonly Option<string> Init = Choice("--init", "How weights and biases start (seeded by --seed).", Defaults.Initializer);
    public readonly Option<double> Dropout = new("--dropout") { HelpName = "P", Description = "Dropout probability in [0, 1) after every dense layer of the shared part (trunk, experts, columns) and the towers; off when evaluating and predicting (default 0: none).", DefaultValueFactory = _ => 0 };
    public readonly Option<bool> LayerNorm = new("--layer-norm") { Description = "Layer normalization (learnable γ, β; ε = 1e-5) between the affine map and the activation of every dense layer of the shared part and the towers." };
    public readonly ArchitectureFlags Architecture = new(); // --arch, its parameters, --expert-hidden, --tower

    // optimizer
    public readonly Option<string> Optimizer = Choice("--optimizer", "The optimizer.", DefaultStep.Optimizer);
    public readonly Option<double> Lr = new("--lr") { HelpName = "LR", Description = "Learning rate.", DefaultValueFactory = _ => DefaultStep.LearningRate };
    public readonly Option<double> Beta1 = new("--beta1") { HelpName = "B1", Description = "Adam β₁.", DefaultValueFactory = _ => DefaultStep.Beta1 };
    public readonly Option<double> Beta2 = new("--beta2") { HelpName = "B2", Description = "Adam β₂.", DefaultValueFactory = _ => DefaultStep.Beta2 };
    public readonly Option<double?> Eps = new("--eps") { HelpName = "EPS", Description = "ε of adam/adamw, rmsprop (default 1e-8) and adagrad (default 1e-10), added outside the square root." };
    public readonly Option<double> WeightDecay = new("--weight-decay") { HelpName = "L", Description = "Weight decay (L2 for adam, sgd, rmsprop and adagrad; decoupled for adamw).", DefaultValueFactory = _ => DefaultStep.WeightDecay };
    public readonly Option<double> Momentum = new("--momentum") { HelpName = "MU", Description = "SGD or RMSprop momentum.", DefaultValueFactory = _ => DefaultStep.Momentum };
    public readonly Option<double> Alpha = new("--alpha") { HelpName = "A", Description = "RMSprop: smoothing constant α in [0, 1] of v ← αv + (1 − α)g².", DefaultValueFactory = _ => DefaultStep.Alpha };
    public readonly Option<bool> Centered = new("--centered") { Description = "RMSprop: divide by √(v − ḡ²) (the gradient's estimated standard deviation) instead of √v." };
    public readonly Option<double> LrDecay = new("--lr-decay") { HelpName = "D", Description = "Adagrad: step t uses lr/(1 + (t − 1)·D).", DefaultValueFactory = _ => DefaultStep.LearningRateDecay };
    public readonly Option<double> InitialAccumulator = new("--initial-accumulator") { HelpName = "S0", Description = "Adagrad: starting value of the sum of squared gradients.", DefaultValueFactory = _ => DefaultStep.InitialAccumulatorValue };
    public readonly Option<string?> WeightColumn = new("--weight-column") { HelpName = "COL", Description = "A column of per-row sample weights (finite, ≥ 0; neither an input nor a target): every task's loss is the weighted mean Σ w·ℓ / Σ w over its labelled rows of the batch (a weight of 2 counts the row twice), and the reported loss, RMSE, MAE, accuracy, log-loss, binary AUC and multi-label mean AUC are weighted alike." };
    public readonly Option<bool> StrictLabels = new("--strict-labels") { Description = "A missing target cell (empty, NA, ?) is a load error, instead of no label for that task in that row." };
    public readonly Option<string> MissingInputs = Choice("--missing-inputs", "A missing input cell (empty, NA, ?): error (a load error naming the row and column); mean (a numeric cell gets its column's mean over the training split, an embedded cell the reserved unseen row); mean-indicator (as mean, plus a 0/1 input COL_missing per numeric column with a missing training cell). The means and indicators are stored with the model and applied when predicting; a one-hot --categorical cell cannot be missing.", Defaults.MissingInputs);
    public readonly Option<bool> Nesterov = new("--nesterov") { Description = "SGD: Nesterov momentum." };
    public readonly Option<double> Dampening = new("--dampening") { HelpName = "D", Description = "SGD: dampening d in [0, 1] of the momentum buffer, b ← μb + (1 − d)g (needs --momentum).", DefaultValueFactory = _ => DefaultStep.Dampening };
    public readonly Option<bool> AmsGrad = new("--amsgrad") { Description = "Adam/AdamW: the AMSGrad variant." };
    public readonly Option<bool> NoBiasCorrection = new("--no-bias-correction") { Description = "Adam/AdamW: do not divide the moments by 1 − βᵗ." };
    public readonly Option<string> Schedule = Choice("--schedule", "Learning-rate schedule after the warm-up.", DefaultStep.Schedule);
    public readonly Option<int> StepSize = new("--step-size") { HelpName = "STEPS", Description = "step schedule: optimizer steps between decays.", DefaultValueFactory = _ => DefaultStep.ScheduleStepSize };
    public readonly Option<int?> DecaySteps = new("--decay-steps") { HelpName = "STEPS", Description = "cosine schedule: steps from the base rate to --min-lr (default: the whole run)." };
    public readonly Option<double> Gamma = new("--gamma") { HelpName = "GAMMA", Description = "step/exponential schedule: decay factor γ.", DefaultValueFactory = _ => DefaultStep.ScheduleGamma };
    public readonly Option<double> MinLr = new("--min-lr") { HelpName = "LR", Description = "cosine schedule: the rate it decays to; plateau schedule: the lowest rate.", DefaultValueFactory = _ => DefaultStep.MinLearningRate };
    public readonly Option<int> PlateauPatience = new("--plateau-patience") { HelpName = "EPOCHS", Description = "plateau schedule: epochs without improvement before lr ← max(lr·γ, --min-lr).", DefaultValueFactory = _ => DefaultStep.PlateauPatience };
    public readonly Option<double> PlateauThreshold = new("--plateau-threshold") { HelpName = "REL", Description = "plateau schedule: the relative improvement that counts.", DefaultValueFactory = _ => DefaultStep.PlateauThreshold };
    public readonly Option<int> PlateauCooldown = new("--plateau-cooldown") { HelpName = "EPOCHS", Description = "plateau schedule: epochs after a reduction before bad epochs count again.", DefaultValueFactory = _ => DefaultStep.PlateauCooldown };
    public readonly Option<int> Warmup = new("--warmup") { HelpName = "STEPS", Description = "Linear warm-up steps.", DefaultValueFactory = _ => DefaultStep.WarmupSteps };
    public readonly Option<double?> Clip = new("--clip") { Description = "Clip the global gradient norm to this (default: off).", HelpName = "MAX_NORM" };
    public readonly Option<string?> Method = new("--method") { HelpName = "NAME[+NAME]", Description = $"The method: a loss weighting, a gradient method, or WEIGHTING+GRADIENT ('mtl methods' lists them with their options): {MethodsCommand.Names()}. Supersedes --combine and --weighting (kept as aliases)." };
    public readonly Option<string[]> MethodOption = List("--method-option", "An option of the method, as key=value (repeat; METHOD.KEY when both methods of a pair have KEY; 'mtl methods' lists them).", "KEY=VALUE");
    public readonly Option<string> Combine = Choice("--combine", "How task gradients on the shared trunk are combined.", DefaultStep.Combination);
    public readonly Option<string> Weighting = Choice("--weighting", "How task weights are set: static (fixed, --task-weight), loss-balanced and uncertainty (every step, on the device), dwa and accuracy (after each epoch, for the next one, from that epoch's training losses or accuracies).", DefaultStep.Weighting);
    public readonly Option<string> PcGradReduction = Choice("--pcgrad-reduction", "pcgrad: sum (the paper) or mean of the projected gradients.", DefaultStep.PcGradReduction);
    public readonly Option<string?> ProjectionReference = new("--projection-reference") { HelpName = "TASK", Description = "projection: the task the others are made orthogonal to (default: the first task)." };
    public readonly Option<bool> Diagnostics = new("--diagnostics") { Description = "Compute per-task trunk gradients even for --combine sum, to report their cosines and conflicts per epoch." };
    public readonly Option<double> CaGradC = new("--cagrad-c") { HelpName = "C", Description = "cagrad: the radius c ≥ 0.", DefaultValueFactory = _ => DefaultStep.CaGradC };
    public readonly Option<double> DwaTemperature = new("--dwa-temperature") { HelpName = "T", Description = "dwa: the temperature τ.", DefaultValueFactory = _ => DefaultStep.DwaTemperature };

    // loop
    public readonly Option<int> Epochs = new("--epochs") { HelpName = "N", Description = "Epochs to train.", DefaultValueFactory = _ => Defaults.Epochs };
    public readonly Option<int> BatchSize = new("--batch-size") { HelpName = "ROWS", Description = "Rows per step (0: the whole training split).", DefaultValueFactory = _ => Defaults.BatchSize };
    public readonly Option<int?> Patience = new("--patience") { HelpName = "EPOCHS", Description = "Stop after this many epochs without a better validation loss (needs --validation > 0)." };
    public readonly Option<string?> Monitor = new("--monitor") { HelpName = "TASK:METRIC", Description = "Early stopping watches this task's validation metric instead of the weighted loss: loss, rmse, mae, r2 (regression), log-loss, accuracy, precision, recall, f1 (classification, binary), auc (binary). Needs --patience." };
    public readonly Option<double> MinDelta = new("--min-delta") { HelpName = "LOSS", Description = "Early stopping: an improvement must lower the validation loss by more than this.", DefaultValueFactory = _ => Defaults.MinDelta };
    public readonly Option<string> Device = SharedFlags.Device();
    public readonly Option<string?> InitWeights = new("--init-weights") { Description = "Start from the weights in this safetensors file (e.g. written by PyTorch).", HelpName = "FILE.safetensors" };
    public readonly Option<string?> Save = new("--save") { Description = "Save the trained model (with its standardization, labels and schema).", HelpName = "FILE.safetensors" };
    public readonly Option<string> Distributed = DistributedChoice();
    public readonly Option<bool> Baselines = new("--baselines") { Description = "Also train one single-task model per task and report Δm." };
    public readonly Option<string?> Report = new("--report") { Description = "Write settings, final metrics and per-epoch history as JSON (- : to stdout, instead of the tables).", HelpName = "FILE.json" };

    /// <summary>Adds every flag to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[]
        {
            Data, Delimiter, Encoding, StrictLabels, MissingInputs, WeightColumn, Inputs, Categorical, Embed, Regression, Classification, Binary, MultiLabel, TaskProduct, NoLoss, TaskInput, DetachTaskInputs, Loss, LabelSmoothing, ClassWeights, PosWeight, RemoveLabels, RemoveLabelsFrom, RemoveLabelsSeed, Validation, Test, Seed,
            Hidden, Activation, TaskWeight, HeadLr, HeadDecay, OutputActivation, Init, Dropout, LayerNorm,
            Optimizer, Lr, Beta1, Beta2, Eps, WeightDecay, Momentum, Nesterov, Dampening, AmsGrad, NoBiasCorrection, Alpha, Centered, LrDecay, InitialAccumulator,
            Schedule, StepSize, DecaySteps, Gamma, MinLr, PlateauPatience, PlateauThreshold, PlateauCooldown, Warmup, Clip, Method, MethodOption, Combine, Weighting, PcGradReduction, ProjectionReference, Diagnostics, CaGradC, DwaTemperature,
            Epochs, BatchSize, Patience, Monitor, MinDelta, Device, Distributed, InitWeights, Save, Baselines, Report,
        })
        {
            command.Add(option);
            if (option == Init) foreach (var arch in Architecture.Options) command.Add(arch);
        }
        // An architecture's flags come from its constructor's parameter names: one named like a training flag would
        // shadow it (a DSelect-k "Gamma" once took --gamma from the schedule). Refuse that when the command is built.
        var twice = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (twice.Length > 0) throw new InvalidOperationException($"mtl {command.Name}: flags declared twice: {string.Join(", ", twice)}.");
    }

    /// <summary>--monitor TASK:METRIC, or null; a malformed value or an unknown metric is a usage error naming it.</summary>
    private static EarlyStoppingMonitor? ParseMonitor(string? text)
    {
        if (text is null) return null;
        try { return EarlyStoppingMonitor.Parse(text); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }

    /// <summary>The settings the parsed flags describe; range errors throw <see cref="UsageException"/>.</summary>
    public ExperimentSettings Bind(ParseResult p)
    {
        var s = new ExperimentSettings
        {
            DataPath = p.GetValue(Data),
            Delimiter = SharedFlags.ParseDelimiter(p.GetValue(Delimiter)),
            TextEncoding = SharedFlags.ParseEncoding(p.GetValue(Encoding)) is null ? null : p.GetValue(Encoding),
            MissingLabels = p.GetValue(StrictLabels) ? Engine.Data.MissingLabels.Error : Engine.Data.MissingLabels.Allow,
            WeightColumn = p.GetValue(WeightColumn) is { } weightColumn
                ? weightColumn.Trim() is { Length: > 0 } column ? column : throw new UsageException("--weight-column: name the column of sample weights.")
                : null,
            MissingInputs = Enum<Engine.Data.MissingInputs>(p, MissingInputs),
            Inputs = Names(p.GetValue(Inputs), "--inputs") is { Length: > 0 } inputs ? inputs : null,
            Categorical = Names(p.GetValue(Categorical), "--categorical"),
            Embed = EmbedColumns(Names(p.GetValue(Embed), "--embed")),
            Regression = Names(p.GetValue(Regression), "--regression"),
            Classification = Names(p.GetValue(Classification), "--classification"),
            Binary = Names(p.GetValue(Binary), "--binary"),
            MultiLabel = MultiLabelTasks(p.GetValue(MultiLabel)),
            Losses = Losses(p.GetValue(Loss)),
            Graph = Graph(p.GetValue(TaskProduct), p.GetValue(NoLoss), p.GetValue(TaskInput), p.GetValue(DetachTaskInputs)),
            LabelSmoothing = Smoothings(p.GetValue(LabelSmoothing), out double? everyTask),
            DefaultLabelSmoothing = everyTask,
            ClassWeights = ClassWeightLists("--class-weights", p.GetValue(ClassWeights)),
            PositiveWeights = ClassWeightLists("--pos-weight", p.GetValue(PosWeight)),
            RemoveLabels = Removals(p.GetValue(RemoveLabels)),
            RemoveLabelsSeed = p.GetValue(RemoveLabelsSeed),
            RemoveLabelsFrom = Enum<Engine.Data.LabelRemovalScope>(p, RemoveLabelsFrom),
            ValidationFraction = Fraction("--validation", p.GetValue(Validation)),
            TestFraction = Fraction("--test", p.GetValue(Test)),
            Seed = p.GetValue(Seed),
            Hidden = Widths(p.GetValue(Hidden) ?? ""),
            Activation = Enum<Activation>(p, Activation),
            TaskWeights = Pairs("--task-weight", p.GetValue(TaskWeight), allowZero: true),
            HeadLearningRates = Pairs("--head-lr", p.GetValue(HeadLr), allowZero: false),
            HeadWeightDecays = Pairs("--head-decay", p.GetValue(HeadDecay), allowZero: true),
            OutputActivation = p.GetValue(OutputActivation) is { } last ? Enum<Activation>(last) : null,
            Initializer = Enum<Initializer>(p, Init),
            Dropout = InUnitInterval("--dropout", p.GetValue(Dropout)),
            LayerNorm = p.GetValue(LayerNorm),
            Step = DefaultStep with
            {
                Optimizer = Enum<OptimizerKind>(p, Optimizer),
                LearningRate = Positive("--lr", p.GetValue(Lr)),
                Beta1 = InUnitInterval("--beta1", p.GetValue(Beta1)),
                Beta2 = InUnitInterval("--beta2", p.GetValue(Beta2)),
                Epsilon = p.GetValue(Eps) is { } eps ? Positive("--eps", eps) : null,
                WeightDecay = NonNegative("--weight-decay", p.GetValue(WeightDecay)),
                Momentum = InUnitInterval("--momentum", p.GetValue(Momentum)),
                Nesterov = p.GetValue(Nesterov),
                Dampening = InClosedUnitInterval("--dampening", p.GetValue(Dampening)),
                AmsGrad = p.GetValue(AmsGrad),
                Alpha = InClosedUnitInterval("--alpha", p.GetValue(Alpha)),
                Centered = p.GetValue(Centered),
                LearningRateDecay = NonNegative("--lr-decay", p.GetValue(LrDecay)),
                InitialAccumulatorValue = NonNegative("--initial-accumulator", p.GetValue(InitialAccumulator)),
                BiasCorrection = !p.GetValue(NoBiasCorrection),
                Schedule = Enum<ScheduleKind>(p, Schedule),
                ScheduleStepSize = (int)PositiveCount("--step-size", p.GetValue(StepSize)),
                DecaySteps = p.GetValue(DecaySteps) is { } decay ? (int)PositiveCount("--decay-steps", decay) : null,
                ScheduleGamma = Enum<ScheduleKind>(p, Schedule) == ScheduleKind.Plateau
                    ? p.GetValue(Gamma) is var f and > 0 and < 1 ? f : throw new UsageException($"--gamma {Show(p.GetValue(Gamma))}: the plateau schedule's factor must lie in (0, 1).")
                    : Positive("--gamma", p.GetValue(Gamma)),
                MinLearningRate = NonNegative("--min-lr", p.GetValue(MinLr)),
                PlateauPatience = (int)NonNegative("--plateau-patience", p.GetValue(PlateauPatience)),
                PlateauThreshold = NonNegative("--plateau-threshold", p.GetValue(PlateauThreshold)),
                PlateauCooldown = (int)NonNegative("--plateau-cooldown", p.GetValue(PlateauCooldown)),
                WarmupSteps = (int)NonNegative("--warmup", p.GetValue(Warmup)),
                MaxGradNorm = p.GetValue(Clip) is { } clip ? Positive("--clip", clip) : null,
                Combination = Enum<CombinationMethod>(p, Combine),
                PcGradReduction = Enum<PcGradReduction>(p, PcGradReduction),
                TaskGradientDiagnostics = p.GetValue(Diagnostics),
                CombinationSeed = unchecked((int)p.GetValue(Seed)),
                CaGradC = NonNegative("--cagrad-c", p.GetValue(CaGradC)),
                Weighting = Enum<WeightingMethod>(p, Weighting),
                DwaTemperature = Positive("--dwa-temperature", p.GetValue(DwaTemperature)),
                Method = p.GetValue(Method),
                MethodOptions = KeyValues("--method-option", p.GetValue(MethodOption)),
            },
            Epochs = (int)PositiveCount("--epochs", p.GetValue(Epochs)),
            BatchSize = (int)NonNegative("--batch-size", p.GetValue(BatchSize)),
            Patience = p.GetValue(Patience) is { } patience ? (int)PositiveCount("--patience", patience) : null,
            MinDelta = NonNegative("--min-delta", p.GetValue(MinDelta)),
            Monitor = ParseMonitor(p.GetValue(Monitor)),
            ProjectionReference = p.GetValue(ProjectionReference),
            Device = p.GetValue(Device) ?? "auto",
            InitWeights = p.GetValue(InitWeights),
            SavePath = p.GetValue(Save),
            Baselines = p.GetValue(Baselines),
            Distributed = p.GetValue(Distributed) ?? "none",
            ReportPath = p.GetValue(Report),
        };
        if (s.ValidationFraction + s.TestFraction >= 1)
            throw new UsageException($"--validation {s.ValidationFraction} and --test {s.TestFraction} leave no rows to train on (their sum must be below 1).");
        if (s.Monitor is { } monitor)
        {
            if (s.Patience is null) throw new UsageException($"--monitor {monitor.Task}:{monitor.Metric} is what early stopping watches: add --patience, e.g. --patience 10.");
            if (DeclaredHeads(s) is { Length: > 0 } heads) // the tasks are known: name the bad task or metric now (exit 2)
                try { monitor.Validate(heads); }
                catch (ArgumentException e) { throw new UsageException(e.Message); }
        }
        foreach (var task in s.Losses.Keys) // a loss for a task that is not a --regression one: exit 2 (bundled schema: checked at Spec)
            if (s.Regression.Count + s.Classification.Count + s.Binary.Count + s.MultiLabel.Count > 0 && !s.Regression.Contains(task))
                throw new UsageException($"--loss {task}:{s.Losses[task]}: '{task}' is not a --regression task{(s.Classification.Contains(task) || s.Binary.Contains(task) || s.MultiLabel.Any(m => m.Name == task) ? " (classification, binary and multi-label tasks have their own loss)" : "")}; regression tasks: {(s.Regression.Count > 0 ? string.Join(", ", s.Regression) : "none")}.");
        CheckClassificationFlags(s);
        CheckRemovals(s);
        if (s.Patience is not null && s.ValidationFraction == 0)
            throw new UsageException("--patience needs a validation split: add --validation, e.g. --validation 0.1.");
        if (s.Baselines && s.TestFraction == 0)
            throw new UsageException("--baselines compares test metrics: --test must be above 0.");
        var step = s.Step;
        if (step.Method is not null && (step.Combination != DefaultStep.Combination || step.Weighting != DefaultStep.Weighting))
            throw new UsageException($"--method {step.Method} names the method; drop --combine/--weighting (they are aliases: --combine pcgrad is --method pcgrad, --weighting dwa --combine pcgrad is --method dwa+pcgrad).");
        if (s.Regression.Count + s.Classification.Count + s.Binary.Count + s.MultiLabel.Count > 0) // the tasks are known: check names, keys and values now (exit 2)
            try { MethodSelection.Resolve(step, [.. s.Regression, .. s.Classification, .. s.Binary, .. s.MultiLabel.Select(m => m.Name)]); }
            catch (ArgumentException e) { throw new UsageException($"--method/--method-option: {e.Message}"); }
        if (step.Optimizer is not (OptimizerKind.Sgd or OptimizerKind.RmsProp) && step.Momentum != 0)
            throw new UsageException($"--momentum applies to --optimizer sgd or rmsprop, not {FlagName(step.Optimizer)}.");
        if (step.Optimizer != OptimizerKind.Sgd && step.Nesterov)
            throw new UsageException($"--nesterov applies to --optimizer sgd, not {FlagName(step.Optimizer)}.");
        if (step.Nesterov && step.Momentum == 0)
            throw new UsageException("--nesterov needs --momentum above 0.");
        if (step.Optimizer != OptimizerKind.Sgd && step.Dampening != 0)
            throw new UsageException($"--dampening applies to --optimizer sgd, not {FlagName(step.Optimizer)}.");
        if (step.Dampening != 0 && step.Momentum == 0)
            throw new UsageException("--dampening needs --momentum above 0 (without momentum there is no buffer to dampen).");
        if (step.Nesterov && step.Dampening != 0)
            throw new UsageException("--nesterov needs --dampening 0.");
        bool adam = step.Optimizer is OptimizerKind.Adam or OptimizerKind.AdamW;
        if (!adam && step.AmsGrad)
            throw new UsageException($"--amsgrad applies to --optimizer adam or adamw, not {FlagName(step.Optimizer)}.");
        if (!adam && !step.BiasCorrection)
            throw new UsageException($"--no-bias-correction applies to --optimizer adam or adamw, not {FlagName(step.Optimizer)}.");
        if (step.Optimizer == OptimizerKind.Sgd && step.Epsilon is not null)
            throw new UsageException("--eps applies to --optimizer adam, adamw, rmsprop or adagrad, not sgd.");
        if (step.Optimizer != OptimizerKind.RmsProp && (step.Alpha != DefaultStep.Alpha || step.Centered))
            throw new UsageException($"--alpha and --centered apply to --optimizer rmsprop, not {FlagName(step.Optimizer)}.");
        if (step.Optimizer != OptimizerKind.Adagrad && (step.LearningRateDecay != 0 || step.InitialAccumulatorValue != 0))
            throw new UsageException($"--lr-decay and --initial-accumulator apply to --optimizer adagrad, not {FlagName(step.Optimizer)}.");
        if (s.Graph is { } graph) CheckGraph(s, graph);
        return Architecture.Bind(p, Hidden, s);
    }

    /// <summary>The tasks the flags declare (empty when they name none: the bundled schema's, known once the file is read).</summary>
    private static TaskHead[] DeclaredHeads(ExperimentSettings s) =>
        [.. s.Regression.Select(n => TaskHead.Regression(n)), .. s.Classification.Select(n => TaskHead.Classification(n, 2)),
         .. s.Binary.Select(n => TaskHead.Binary(n)), .. s.MultiLabel.Select(m => TaskHead.MultiLabel(m.Name, m.Columns.Count))];

    /// <summary>--task-product NAME=A*B[*C…], --no-loss TASK,…, --task-input TASK=SRC,… and --detach-task-inputs → the task graph
    /// (null when none is given); a malformed value, a product, factor, task or source named twice is a usage error naming the flag.</summary>
    internal static TaskGraph? Graph(string[]? products, string[]? noLoss, string[]? taskInputs = null, bool detach = false)
    {
        var inputs = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var value in taskInputs ?? [])
        {
            int eq = value.IndexOf('=');
            string name = eq > 0 ? value[..eq].Trim() : "";
            var sources = eq > 0 ? ColumnList.Split(value[(eq + 1)..], "--task-input").ToArray() : [];
            if (name.Length == 0 || sources.Length == 0)
                throw new UsageException($"--task-input {value}: expected TASK=SRC[,SRC…], the tasks whose predictions TASK's tower reads (e.g. --task-input cvr=ctr).");
            if (sources.Distinct(StringComparer.Ordinal).Count() != sources.Length) throw new UsageException($"--task-input {value}: a source is named twice.");
            if (!inputs.TryAdd(name, sources)) throw new UsageException($"--task-input: '{name}' is given twice (name all its sources in one: --task-input {name}=a,b).");
        }
        if (detach && inputs.Count == 0) throw new UsageException("--detach-task-inputs applies to --task-input: name the tasks a tower reads, e.g. --task-input cvr=ctr.");
        var factorsOf = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var value in products ?? [])
        {
            int eq = value.IndexOf('=');
            string name = eq > 0 ? value[..eq].Trim() : "";
            var factors = eq > 0 ? value[(eq + 1)..].Split('*', StringSplitOptions.TrimEntries) : [];
            if (name.Length == 0 || factors.Length < 2 || factors.Any(f => f.Length == 0))
                throw new UsageException($"--task-product {value}: expected NAME=A*B[*C…], the product of at least two binary tasks (e.g. --task-product ctcvr=ctr*cvr).");
            if (factors.Distinct(StringComparer.Ordinal).Count() != factors.Length) throw new UsageException($"--task-product {value}: a factor is named twice.");
            if (!factorsOf.TryAdd(name, factors)) throw new UsageException($"--task-product: '{name}' is given twice.");
        }
        var unsupervised = Names(noLoss, "--no-loss");
        if (unsupervised.Distinct(StringComparer.Ordinal).Count() != unsupervised.Length) throw new UsageException("--no-loss names a task twice.");
        if (factorsOf.Count == 0 && unsupervised.Length == 0 && inputs.Count == 0) return null;
        return new TaskGraph { Products = factorsOf, Unsupervised = unsupervised, Inputs = inputs, DetachInputs = detach };
    }

    /// <summary>The task graph against the declared tasks (names, kinds, cycles: <see cref="TaskGraph.Order"/>) and the options
    /// that are not built for it; each a usage error naming the flag.</summary>
    private static void CheckGraph(ExperimentSettings s, TaskGraph graph)
    {
        const string Flags = "--task-product, --no-loss, --task-input";
        var declared = DeclaredHeads(s);
        // A --no-loss task that is no column is a binary task with no labels at all (ESMM's CVR beside click and ctcvr columns).
        TaskHead[] heads = [.. declared, .. graph.Unsupervised.Where(u => declared.All(h => h.Name != u)).Select(u => TaskHead.Binary(u))];
        if (declared.Length == 0) throw new UsageException($"{Flags} name tasks of the data: declare them, e.g. --binary click,conversion,ctcvr --task-product ctcvr=click*conversion --no-loss conversion.");
        try { graph.Order(heads); }
        catch (ArgumentException e)
        {
            string message = e.Message.Split(" (Parameter", 2)[0];
            string flag = e.ParamName switch { nameof(TaskGraph.Unsupervised) => "--no-loss", nameof(TaskGraph.Inputs) => "--task-input", _ => "--task-product" };
            if (message.StartsWith("TaskGraph: ", StringComparison.Ordinal)) { flag = Flags; message = message["TaskGraph: ".Length..]; }
            else if (message.StartsWith("TaskGraph.", StringComparison.Ordinal)) message = message[(message.IndexOf(": ", StringComparison.Ordinal) + 2)..];
            if (flag == "--task-product" && message.Contains("is not a task", StringComparison.Ordinal))
                message += " A product task is a --binary column holding its own label (ESMM's CTCVR: click AND conversion); a factor without a column must be --no-loss.";
            throw new UsageException($"{flag}: {message}");
        }
        MethodPlan plan;
        try { plan = MethodSelection.Resolve(s.Step, [.. heads.Select(h => h.Name)]); }
        catch (ArgumentException e) { throw new UsageException($"--method/--method-option: {e.Message}"); }
        if (s.Monitor is { } monitor && graph.Unsupervised.Contains(monitor.Task))
            throw new UsageException($"--monitor {monitor.Task}:{monitor.Metric}: '{monitor.Task}' is a --no-loss task, with no validation loss or labels to watch; monitor a task with a loss.");
        if (graph.Unsupervised.Count > 0 && plan.Weighting.Name != "static")
            throw new UsageException($"--method {plan}: --no-loss {string.Join(",", graph.Unsupervised)} has no loss (0 in every step), which a {plan.Weighting.Name} weighting would read; train with the static weighting (--task-weight).");
    }

    // ---- value checks: each names its flag --------------------------------------------------------------

    private static Option<string[]> List(string name, string description, string helpName = "COL[,COL…]") =>
        new(name) { Description = helpName.StartsWith("COL", StringComparison.Ordinal) ? description + " A name holding a comma goes in double quotes, '\"a,b\"', or as a\\,b." : description,
            HelpName = helpName, AllowMultipleArgumentsPerToken = false, Arity = ArgumentArity.OneOrMore };

    private static Option<string> DistributedChoice()
    {
        var option = new Option<string>("--distributed")
        {
            Description = "Data-parallel training over the processes mpirun starts (mpirun -np 4 mtl train --distributed mpi …): mpi (CPU processes), nccl (one CUDA GPU per process), none. --batch-size is the global batch; rank 0 prints and writes files.",
            DefaultValueFactory = _ => "none",
        };
        option.AcceptOnlyFromAmong("none", "mpi", "nccl");
        return option;
    }

    private static Option<string> Choice<TEnum>(string name, string description, TEnum defaultValue) where TEnum : struct, Enum
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => FlagName(defaultValue) };
        option.AcceptOnlyFromAmong(System.Enum.GetValues<TEnum>().Select(FlagName).ToArray());
        return option;
    }

    /// <summary>A choice with no default value (left out: null).</summary>
    private static Option<string?> OptionalChoice<TEnum>(string name, string description) where TEnum : struct, Enum
    {
        var option = new Option<string?>(name) { Description = description };
        option.AcceptOnlyFromAmong(System.Enum.GetValues<TEnum>().Select(FlagName).ToArray());
        return option;
    }

    /// <summary>An enum member as a flag value: PcGrad → pcgrad, LossBalanced → loss-balanced, KaimingUniform → kaiming-uniform.</summary>
    internal static string FlagName<TEnum>(TEnum value) where TEnum : struct, Enum => value.ToString() switch
    {
        "LossBalanced" => "loss-balanced",
        "Mgda" => "mgda",
        "PyTorchDefault" => "pytorch-default",
        "KaimingUniform" => "kaiming-uniform",
        "KaimingNormal" => "kaiming-normal",
        "XavierUniform" => "xavier-uniform",
        "XavierNormal" => "xavier-normal",
        "MeanIndicator" => "mean-indicator",
        var other => other.ToLowerInvariant(),
    };

    private static TEnum Enum<TEnum>(string? flag) where TEnum : struct, Enum =>
        System.Enum.GetValues<TEnum>().First(v => FlagName(v) == flag);

    /// <summary>The choice given to <paramref name="option"/>. A flag given without its value (e.g. "--weighting --optimizer
    /// adam": the parser then reports no error and an empty value) is a usage error naming the flag and the choices.</summary>
    private static TEnum Enum<TEnum>(ParseResult p, Option<string> option) where TEnum : struct, Enum
    {
        var value = p.GetValue(option);
        foreach (var v in System.Enum.GetValues<TEnum>()) if (FlagName(v) == value) return v;
        throw new UsageException($"{option.Name} needs one of: {string.Join(", ", System.Enum.GetValues<TEnum>().Select(FlagName))} (got '{value}').");
    }

    /// <summary>Comma-separated or repeated names: "a,b" and "a b" give [a, b]; blanks are dropped.</summary>
    internal static string[] Names(string[]? values, string flag = "a list flag") =>
        (values ?? []).SelectMany(v => ColumnList.Split(v, flag)).ToArray(); // "a,b"; a name with a comma: "\"a,b\"" or a\,b

    /// <summary>"city" → (city, default dim); "city:16" → (city, 16). A suffix after the last ':' that is not a number is part
    /// of the column's name ("a:b" is the column a:b); a number there must be a positive dimension.</summary>
    internal static EmbedColumn[] EmbedColumns(string[] values)
    {
        var columns = new List<EmbedColumn>();
        foreach (var value in values)
        {
            int colon = value.LastIndexOf(':');
            string suffix = colon < 0 ? "" : value[(colon + 1)..].Trim();
            EmbedColumn column;
            if (colon < 0 || suffix.Length > 0 && !suffix.All(char.IsAsciiDigit)) column = new EmbedColumn(value.Trim());
            else if (int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out int dim) && dim > 0 && colon > 0) column = new EmbedColumn(value[..colon].Trim(), dim);
            else throw new UsageException($"--embed {value}: expected COL or COL:DIM with DIM a positive integer (e.g. --embed {(colon > 0 ? value[..colon] : "city")}:16).");
            if (columns.Any(c => c.Column == column.Column)) throw new UsageException($"--embed names column '{column.Column}' twice.");
            columns.Add(column);
        }
        return [.. columns];
    }

    /// <summary>"tags=a,b,c" → task tags over columns a, b, c; "a,b" → task a over a, b (one task per --multilabel).</summary>
    internal static MultiLabelTask[] MultiLabelTasks(string[]? values) => [.. (values ?? []).Select(value =>
    {
        int equals = value.IndexOf('=');
        string name = equals > 0 ? value[..equals].Trim() : "";
        var columns = ColumnList.Split(equals > 0 ? value[(equals + 1)..] : value, "--multilabel").ToArray();
        if (columns.Length == 0) throw new UsageException($"--multilabel {value}: name at least one label column, e.g. --multilabel tags=a,b,c.");
        if (columns.Distinct(StringComparer.Ordinal).Count() != columns.Length) throw new UsageException($"--multilabel {value}: a label column is named twice.");
        if (name.Length == 0) name = columns[0];
        if (name.Contains('.')) throw new UsageException($"--multilabel {value}: the task name '{name}' must not contain '.' (it becomes part of tensor names); give one with NAME=.");
        return new MultiLabelTask(name, columns);
    })];

    /// <summary>"64,64" → [64, 64]; the trunk has at least one layer.</summary>
    internal static int[] Widths(string text, string flag = "--hidden")
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new UsageException($"{flag}: give at least one layer width, e.g. {flag} 64,64.");
        return parts.Select(part =>
            int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int width) && width > 0 ? width
                : throw new UsageException($"{flag}: '{part}' is not a positive layer width (expected e.g. {flag} 64,64).")).ToArray();
    }

    /// <summary>"name=value" pairs → a dictionary (values positive, or ≥ 0 with allowZero).</summary>
    internal static Dictionary<string, double> Pairs(string flag, string[]? values, bool allowZero)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in Names(values, flag))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                throw new UsageException($"{flag}: '{pair}' is not NAME=NUMBER.");
            if (!double.IsFinite(value) || value < 0 || (!allowZero && value == 0))
                throw new UsageException($"{flag}: {pair[(eq + 1)..]} for '{pair[..eq]}' must be {(allowZero ? "≥ 0" : "> 0")} and finite.");
            if (!result.TryAdd(pair[..eq].Trim(), value)) throw new UsageException($"{flag}: '{pair[..eq]}' is given twice.");
        }
        return result;
    }

    /// <summary>--loss TASK:LOSS values (TASK:mse, TASK:l1, TASK:huber[:DELTA]) → a dictionary; a malformed value, an unknown
    /// loss or a task given twice is a usage error naming it.</summary>
    internal static Dictionary<string, RegressionLoss> Losses(string[]? values)
    {
        var result = new Dictionary<string, RegressionLoss>(StringComparer.Ordinal);
        foreach (var value in Names(values, "--loss"))
        {
            int colon = value.IndexOf(':');
            if (colon <= 0 || colon == value.Length - 1) throw new UsageException($"--loss: '{value}' is not TASK:LOSS (e.g. --loss y:huber:1.5).");
            string task = value[..colon].Trim();
            RegressionLoss loss;
            try { loss = RegressionLoss.Parse(value[(colon + 1)..]); }
            catch (ArgumentException e) { throw new UsageException($"--loss {value}: {e.Message.Split(" (Parameter", 2)[0]}"); }
            if (!result.TryAdd(task, loss)) throw new UsageException($"--loss: '{task}' is given twice.");
        }
        return result;
    }

    /// <summary>--label-smoothing values: EPS (every classification task, returned in <paramref name="everyTask"/>) or TASK:EPS,
    /// ε in [0, 1]; a malformed value, ε out of range or a task (or EPS) given twice is a usage error naming the flag.</summary>
    internal static Dictionary<string, double> Smoothings(string[]? values, out double? everyTask)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        everyTask = null;
        foreach (var value in values ?? [])
        {
            int colon = value.LastIndexOf(':');
            string task = colon < 0 ? "" : value[..colon].Trim(), number = value[(colon + 1)..].Trim();
            if (colon == 0 || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double eps))
                throw new UsageException($"--label-smoothing {value}: expected EPS or TASK:EPS with EPS a number in [0, 1] (e.g. --label-smoothing 0.1 or --label-smoothing color:0.1).");
            if (!(eps >= 0 && eps <= 1))
                throw new UsageException($"--label-smoothing {value}: ε = {number} must lie in [0, 1].");
            if (task.Length == 0)
            {
                if (everyTask is not null) throw new UsageException($"--label-smoothing {value}: an EPS for every task is given twice.");
                everyTask = eps;
            }
            else if (!result.TryAdd(task, eps)) throw new UsageException($"--label-smoothing: '{task}' is given twice.");
        }
        return result;
    }

    /// <summary>--class-weights TASK:W0,W1,… values → a dictionary; weights finite, ≥ 0 and not all 0; a malformed value or a
    /// task given twice is a usage error naming the flag. (The count is checked against the task's classes with the data.)</summary>
    internal static Dictionary<string, double[]> ClassWeightLists(string flag, string[]? values)
    {
        var result = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            int colon = value.LastIndexOf(':');
            if (colon <= 0 || colon == value.Length - 1) throw new UsageException(flag == "--pos-weight" ? $"--pos-weight: '{value}' is not TASK:P[,P…] (e.g. --pos-weight clicked:3)." : $"--class-weights: '{value}' is not TASK:W0,W1,… (e.g. --class-weights color:1,3).");
            string task = value[..colon].Trim();
            var parts = value[(colon + 1)..].Split(',');
            var weights = new double[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out weights[i]) || !double.IsFinite(weights[i]) || weights[i] < 0)
                    throw new UsageException($"{flag} {value}: weight {i} ('{parts[i].Trim()}') must be a finite number ≥ 0.");
            if (flag == "--class-weights" && weights.All(w => w == 0)) throw new UsageException($"{flag} {value}: the weights must not all be 0.");
            if (!result.TryAdd(task, weights)) throw new UsageException($"{flag}: '{task}' is given twice.");
        }
        return result;
    }

    /// <summary>With the tasks known from the flags: --class-weights must name --classification tasks and --label-smoothing
    /// --classification, --binary or --multilabel ones (product tasks are refused, saying why); EPS for every task needs a
    /// --classification task.</summary>
    private static void CheckClassificationFlags(ExperimentSettings s)
    {
        if (s.Regression.Count + s.Classification.Count + s.Binary.Count + s.MultiLabel.Count == 0) return; // bundled schema: checked at Spec
        string known = s.Classification.Count > 0 ? string.Join(", ", s.Classification) : "none";
        foreach (var task in s.LabelSmoothing.Keys.Where(s.Binary.Contains))
            if (s.Graph?.Products.ContainsKey(task) == true)
                throw new UsageException($"--label-smoothing: '{task}' is a --task-product task (the cross-entropy of a product of probabilities), which has no label smoothing; smooth its factors instead.");
        foreach (var task in s.LabelSmoothing.Keys)
            if (!s.Classification.Contains(task) && !s.Binary.Contains(task) && !s.MultiLabel.Any(m => m.Name == task))
                throw new UsageException($"--label-smoothing: '{task}' is not a --classification, --binary or --multilabel task; classification tasks: {known}; binary and multi-label tasks: {(s.Binary.Count + s.MultiLabel.Count > 0 ? string.Join(", ", [.. s.Binary, .. s.MultiLabel.Select(m => m.Name)]) : "none")}.");
        foreach (var task in s.ClassWeights.Keys)
        {
            if (s.Classification.Contains(task)) continue;
            string why = s.Binary.Contains(task) || s.MultiLabel.Any(m => m.Name == task)
                ? $" ('{task}' is a binary or multi-label task: one logit per label with binary cross-entropy, whose weighting is --pos-weight {task}:P)"
                : "";
            throw new UsageException($"--class-weights: '{task}' is not a --classification task{why}; classification tasks: {known}.");
        }
        foreach (var task in s.PositiveWeights.Keys)
            if (!s.Binary.Contains(task) && !s.MultiLabel.Any(m => m.Name == task))
                throw new UsageException($"--pos-weight: '{task}' is not a --binary or --multilabel task{(s.Classification.Contains(task) ? $" (a --classification task takes --class-weights {task}:W0,W1,…)" : "")}; binary and multi-label tasks: {(s.Binary.Count + s.MultiLabel.Count > 0 ? string.Join(", ", [.. s.Binary, .. s.MultiLabel.Select(m => m.Name)]) : "none")}.");
        if (s.DefaultLabelSmoothing is not null && s.Classification.Count == 0)
            throw new UsageException($"--label-smoothing {s.DefaultLabelSmoothing.Value.ToString(CultureInfo.InvariantCulture)}: there is no --classification task to smooth (EPS alone applies to the --classification tasks; a --binary or --multilabel task takes TASK:EPS, e.g. --label-smoothing {(s.Binary.Count > 0 ? s.Binary[0] : s.MultiLabel.Count > 0 ? s.MultiLabel[0].Name : "label")}:{s.DefaultLabelSmoothing.Value.ToString(CultureInfo.InvariantCulture)}).");
    }

    /// <summary>--remove-labels TASK=FRACTION values (repeated or comma-separated) → a dictionary; FRACTION in [0, 1) (1 would
    /// leave the task without labels); a malformed value or a task given twice is a usage error naming the flag.</summary>
    internal static Dictionary<string, double> Removals(string[]? values)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in Names(values, "--remove-labels"))
        {
            int eq = pair.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction))
                throw new UsageException($"--remove-labels: '{pair}' is not TASK=FRACTION (e.g. --remove-labels quality=0.5,color=0.3).");
            if (!(fraction >= 0 && fraction < 1))
                throw new UsageException($"--remove-labels {pair}: the fraction {pair[(eq + 1)..].Trim()} must lie in [0, 1).");
            if (!result.TryAdd(pair[..eq].Trim(), fraction)) throw new UsageException($"--remove-labels: '{pair[..eq].Trim()}' is given twice.");
        }
        return result;
    }

    /// <summary>With the tasks known from the flags, --remove-labels must name them (bundled schema: checked when the file is
    /// read, exit 1); --remove-labels-seed needs --remove-labels.</summary>
    private static void CheckRemovals(ExperimentSettings s)
    {
        if (s.RemoveLabelsSeed is not null && s.RemoveLabels.Count == 0)
            throw new UsageException("--remove-labels-seed seeds --remove-labels: name the labels to remove, e.g. --remove-labels quality=0.5.");
        if (s.RemoveLabelsFrom != Engine.Data.LabelRemovalScope.All && s.RemoveLabels.Count == 0)
            throw new UsageException("--remove-labels-from says where --remove-labels draws: name the labels to remove, e.g. --remove-labels quality=0.5.");
        string[] tasks = [.. s.Regression, .. s.Classification, .. s.Binary, .. s.MultiLabel.Select(m => m.Name)];
        if (tasks.Length == 0) return;
        foreach (var task in s.RemoveLabels.Keys)
            if (!tasks.Contains(task))
                throw new UsageException($"--remove-labels: '{task}' is not a task; tasks: {string.Join(", ", tasks)}.");
    }

    /// <summary>"key=value" pairs → a dictionary of text values (checked later against the method's typed options).</summary>
    internal static Dictionary<string, string> KeyValues(string flag, string[]? values)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in Names(values, flag))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || eq == pair.Length - 1) throw new UsageException($"{flag}: '{pair}' is not KEY=VALUE.");
            if (!result.TryAdd(pair[..eq].Trim(), pair[(eq + 1)..].Trim())) throw new UsageException($"{flag}: '{pair[..eq]}' is given twice.");
        }
        return result;
    }

    private static double Fraction(string flag, double value) =>
        value is >= 0 and < 1 ? value : throw new UsageException($"{flag} {Show(value)}: must be a fraction in [0, 1).");

    private static double Positive(string flag, double value) =>
        double.IsFinite(value) && value > 0 ? value : throw new UsageException($"{flag} {Show(value)}: must be a positive number.");

    private static double NonNegative(string flag, double value) =>
        double.IsFinite(value) && value >= 0 ? value : throw new UsageException($"{flag} {Show(value)}: must be ≥ 0.");

    private static double PositiveCount(string flag, int value) =>
        value > 0 ? value : throw new UsageException($"{flag} {value}: must be at least 1.");

    private static double InUnitInterval(string flag, double value) =>
        value is >= 0 and < 1 ? value : throw new UsageException($"{flag} {Show(value)}: must be in [0, 1).");

    private static double InClosedUnitInterval(string flag, double value) =>
        value is >= 0 and <= 1 ? value : throw new UsageException($"{flag} {Show(value)}: must be in [0, 1].");

    private static string Show(double value) => value.ToString(CultureInfo.InvariantCulture);
}
