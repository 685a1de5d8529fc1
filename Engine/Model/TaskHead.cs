using System.Text.Json.Serialization;
using Engine.Data;

namespace Engine;

/// <summary>
/// One task of a multi-task model: a single dense layer (no activation) on top of the shared trunk.
/// A regression head has <see cref="Outputs"/> = k values and is trained with the mean squared error (or the
/// <see cref="Loss"/> it names: L1, Huber);
/// a classification head has <see cref="Outputs"/> = C classes (≥ 2), emits logits and is trained with
/// softmax cross-entropy. Its parameters are <c>heads.{Name}.weight</c> [Outputs × trunk width] and
/// <c>heads.{Name}.bias</c> [Outputs] (<see cref="Checkpoints.CheckpointNames"/>).
/// </summary>
/// <param name="Name">The task's name: non-empty, no '.' (it becomes part of parameter names).</param>
/// <param name="Kind">Regression (MSE) or classification (cross-entropy).</param>
/// <param name="Outputs">k regression outputs, or C classes.</param>
/// <param name="LossWeight">λ, the task's weight in Σ λᵢ Lᵢ under <see cref="Training.WeightingMethod.Static"/>
/// weighting (the dynamic weightings replace it), and in the validation loss early stopping watches.</param>
/// <param name="LearningRate">The learning rate of the task's own parameters (its output layer, tower, gate: an optimizer parameter group); null = the optimizer's.</param>
/// <param name="WeightDecay">The weight decay of the task's own parameters; null = the optimizer's.</param>
public sealed record TaskHead(string Name, TaskKind Kind, int Outputs, double LossWeight = 1.0,
    double? LearningRate = null, double? WeightDecay = null)
{
    /// <summary>A regression task's loss: MSE (null, the default), L1 or Huber(δ) (maths §19.6). Written to the checkpoint
    /// only when set, so a model trained with MSE keeps the JSON it had.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RegressionLoss? Loss { get; init; }

    /// <summary>A classification task's label smoothing ε ∈ [0, 1] (PyTorch's <c>CrossEntropyLoss(label_smoothing=ε)</c>: the
    /// target is (1 − ε)·onehot + ε/K; maths §19.9), or a binary or multi-label task's (Keras' <c>BinaryCrossentropy(label_smoothing=ε)</c>:
    /// each label's target is y(1 − ε) + ε/2; maths §19.13). Null (the default) is 0; written to the checkpoint only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? LabelSmoothing { get; init; }

    /// <summary>A classification task's class weights w₀ … w_{K−1} (finite, ≥ 0, not all 0; PyTorch's
    /// <c>CrossEntropyLoss(weight=w)</c>: 'mean' divides by Σ w_{yᵣ}; maths §19.9). Null (the default) is all ones; written to
    /// the checkpoint only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? ClassWeights { get; init; }

    /// <summary>A binary or multi-label task's positive-class weights, one per logit (PyTorch's
    /// <c>BCEWithLogitsLoss(pos_weight=p)</c>: the positive term is multiplied by p, the mean still divides by the labelled
    /// count; maths §19.10). Null (the default) is all ones; written to the checkpoint only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? PositiveWeights { get; init; }

    /// <summary>True when the task trains with the weighted/smoothed cross-entropy of §19.9 rather than the masked one of §19.1.</summary>
    internal bool UsesWeightedCrossEntropy => LabelSmoothing is > 0 || ClassWeights is not null;

    /// <summary>True when a binary or multi-label task trains with §19.10's kernels (positive weights, or label smoothing,
    /// §19.13) rather than §19.3's masked BCE.</summary>
    internal bool UsesWeightedBinaryCrossEntropy => PositiveWeights is not null || LabelSmoothing is > 0;

    /// <summary>The loss the task is trained with (MSE unless <see cref="Loss"/> says otherwise).</summary>
    internal RegressionLoss RegressionLossOrMse => Loss ?? RegressionLoss.Mse;

    /// <summary>A regression head with k outputs.</summary>
    public static TaskHead Regression(string name, int outputs = 1, double lossWeight = 1.0) =>
        new(name, TaskKind.Regression, outputs, lossWeight);

    /// <summary>A classification head over C classes.</summary>
    public static TaskHead Classification(string name, int classes, double lossWeight = 1.0) =>
        new(name, TaskKind.Classification, classes, lossWeight);

    /// <summary>A binary head: one logit, binary cross-entropy with logits (maths §19.3).</summary>
    public static TaskHead Binary(string name, double lossWeight = 1.0) =>
        new(name, TaskKind.Binary, 1, lossWeight);

    /// <summary>A multi-label head: k logits, binary cross-entropy with logits per label (maths §19.8).</summary>
    public static TaskHead MultiLabel(string name, int labels, double lossWeight = 1.0) =>
        new(name, TaskKind.MultiLabel, labels, lossWeight);

    /// <summary>Throws, naming the field, unless the head is well-formed.</summary>
    internal void Validate(string where)
    {
        if (string.IsNullOrEmpty(Name) || Name.Contains('.'))
            throw new ArgumentException($"{where}: task name '{Name}' must be non-empty and contain no '.'.", nameof(Name));
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{where} ('{Name}'): unknown task kind.");
        if (Outputs <= 0)
            throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, $"{where} ('{Name}'): Outputs must be positive.");
        if (Kind == TaskKind.Classification && Outputs < 2)
            throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, $"{where} ('{Name}'): a classification head needs at least 2 classes.");
        if (Kind == TaskKind.Binary && Outputs != 1)
            throw new ArgumentOutOfRangeException(nameof(Outputs), Outputs, $"{where} ('{Name}'): a binary head has exactly 1 output (one logit).");
        if (Loss is not null && Kind != TaskKind.Regression)
            throw new ArgumentException($"{where} ('{Name}'): a {Kind} task has no choice of loss (Loss = {Loss} applies to regression tasks).", nameof(Loss));
        Loss?.Validate($"{where} ('{Name}')");
        if (LabelSmoothing is { } eps)
        {
            if (Kind is not (TaskKind.Classification or TaskKind.Binary or TaskKind.MultiLabel))
                throw new ArgumentException($"{where} ('{Name}'): label smoothing applies to classification (softmax), binary and multi-label tasks, not to a {Kind} task.", nameof(LabelSmoothing));
            if (!(eps >= 0 && eps <= 1))
                throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), eps, $"{where} ('{Name}'): the label smoothing ε must lie in [0, 1].");
        }
        if (PositiveWeights is { } positive)
        {
            if (Kind is not (TaskKind.Binary or TaskKind.MultiLabel))
                throw new ArgumentException($"{where} ('{Name}'): positive weights apply to binary and multi-label tasks, not to a {Kind} task.", nameof(PositiveWeights));
            if (positive.Count != Outputs)
                throw new ArgumentException($"{where} ('{Name}'): {positive.Count} positive weights for {Outputs} logits (one per label).", nameof(PositiveWeights));
            if (positive.Any(w => !(w >= 0) || !double.IsFinite(w)))
                throw new ArgumentOutOfRangeException(nameof(PositiveWeights), $"{where} ('{Name}'): positive weights must be finite and ≥ 0.");
        }
        if (ClassWeights is { } weights)
        {
            if (Kind != TaskKind.Classification)
                throw new ArgumentException($"{where} ('{Name}'): class weights apply to classification (softmax) tasks, not to a {Kind} task.", nameof(ClassWeights));
            if (weights.Count != Outputs)
                throw new ArgumentException($"{where} ('{Name}'): {weights.Count} class weights for {Outputs} classes (one per class).", nameof(ClassWeights));
            if (weights.Any(w => !(w >= 0) || !double.IsFinite(w)) || weights.All(w => w == 0))
                throw new ArgumentOutOfRangeException(nameof(ClassWeights), $"{where} ('{Name}'): class weights must be finite, ≥ 0 and not all 0.");
        }
        if (!(LossWeight >= 0) || !double.IsFinite(LossWeight))
            throw new ArgumentOutOfRangeException(nameof(LossWeight), LossWeight, $"{where} ('{Name}'): LossWeight must be finite and ≥ 0.");
        if (LearningRate is { } lr && (!(lr >= 0) || !double.IsFinite(lr)))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), lr, $"{where} ('{Name}'): LearningRate must be finite and ≥ 0.");
        if (WeightDecay is { } wd && (!(wd >= 0) || !double.IsFinite(wd)))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), wd, $"{where} ('{Name}'): WeightDecay must be finite and ≥ 0.");
    }
}
