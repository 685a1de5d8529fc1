using Engine.Data;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// What a training step needs for the tasks that train with a weighted loss: a classification task's label smoothing and
/// class weights (maths §19.9, <see cref="TaskHead.LabelSmoothing"/>, <see cref="TaskHead.ClassWeights"/>), a binary or
/// multi-label task's positive weights (§19.10, <see cref="TaskHead.PositiveWeights"/>) or label smoothing (§19.13, each
/// label's target y(1 − ε) + ε/2, through §19.10's kernels with p ≡ 1 when it has no positive weights), and the rows' sample weights sᵣ
/// (§19.11, <see cref="TrainingData.SampleWeights"/>, a view of the batch passed per call): those weights on the device
/// (uploaded once, here) and a device scalar per task for the batch's denominator D. Tasks without any keep the masked
/// losses of §19.1 and §19.3, bit for bit as before.
/// </summary>
internal sealed class TaskLossWeights : IDisposable
{
    private readonly DeviceBuffer<float>?[] _weights;
    private readonly DeviceBuffer<float> _weightSums;
    private readonly IReadOnlyList<TaskHead> _heads;

    /// <summary>Uploads the heads' class or positive weights; a binary or multi-label task without positive weights gets
    /// p ≡ 1, which it uses with sample weights or label smoothing (the kernel of §19.10 is then §19.3's BCE, weighted by
    /// row, of the smoothed targets).</summary>
    public TaskLossWeights(Backend<float> backend, IReadOnlyList<TaskHead> heads)
    {
        _heads = heads;
        _weights = new DeviceBuffer<float>?[heads.Count];
        _weightSums = backend.Allocate<float>(heads.Count);
        for (int t = 0; t < heads.Count; t++)
            if ((heads[t].ClassWeights ?? heads[t].PositiveWeights) is { } w) _weights[t] = backend.Allocate<float>([.. w.Select(v => (float)v)]);
            else if (heads[t].Kind is TaskKind.Binary or TaskKind.MultiLabel)
                _weights[t] = backend.Allocate<float>([.. Enumerable.Repeat(1f, heads[t].Outputs)]);
    }

    /// <summary>The batch's denominators Dₜ (T, on the device) of the weighted losses, written by the last
    /// <see cref="Record"/> / <see cref="RecordBinary"/> / <see cref="RecordRegression"/> of each task: Σ sᵣmᵣ with sample weights.</summary>
    public View<float> WeightSums => _weightSums.View;

    /// <summary>A classification task's loss on the tape, its labelled count written to <paramref name="count"/>: §19.9's for a
    /// task with smoothing, class weights or sample weights (<paramref name="rowWeights"/> non-empty), §19.1's masked
    /// cross-entropy otherwise.</summary>
    public Tensor<float> Record(Tape<float> tape, int t, Tensor<float> logits, Labels labels, View<float> count, View<float> rowWeights = default) =>
        _heads[t].UsesWeightedCrossEntropy || !rowWeights.IsEmpty
            ? tape.WeightedSoftmaxCrossEntropy(logits, labels, rowWeights, _weights[t]?.View ?? default, (float)(_heads[t].LabelSmoothing ?? 0),
                count, _weightSums.Slice(t, 1))
            : tape.MaskedSoftmaxCrossEntropy(logits, labels, count);

    /// <summary>A binary or multi-label task's loss on the tape: §19.10's with positive weights, label smoothing (§19.13) or
    /// sample weights, §19.3's masked BCE otherwise.</summary>
    public Tensor<float> RecordBinary(Tape<float> tape, int t, Tensor<float> logits, Labels labels, View<float> count, View<float> rowWeights = default) =>
        _heads[t].UsesWeightedBinaryCrossEntropy || !rowWeights.IsEmpty
            ? tape.PositiveWeightedBinaryCrossEntropy(logits, labels, rowWeights, _weights[t]!.View, count, _weightSums.Slice(t, 1), (float)(_heads[t].LabelSmoothing ?? 0))
            : tape.MaskedBinaryCrossEntropy(logits, labels, count);

    /// <summary>A product task's BCE of probabilities (§19.7) on the tape, sample-weighted (§19.11) when <paramref name="rowWeights"/>
    /// is non-empty.</summary>
    public Tensor<float> RecordProduct(Tape<float> tape, int t, Tensor<float> probabilities, Labels labels, View<float> count, View<float> rowWeights) =>
        tape.MaskedProbabilityCrossEntropy(probabilities, labels, count, rowWeights, rowWeights.IsEmpty ? default : _weightSums.Slice(t, 1));

    /// <summary>A regression task's loss (MSE, L1 or Huber) on the tape: sample-weighted (§19.11, D into <see cref="WeightSums"/>[t])
    /// when <paramref name="rowWeights"/> is non-empty, §19.1's or §19.5's masked mean otherwise.</summary>
    public Tensor<float> RecordRegression(Tape<float> tape, int t, Tensor<float> prediction, Tensor<float> target, View<float> count, View<float> rowWeights) =>
        _heads[t].RegressionLossOrMse.Record(tape, prediction, target, count, rowWeights, rowWeights.IsEmpty ? default : _weightSums.Slice(t, 1));

    public void Dispose()
    {
        foreach (var b in _weights) b?.Dispose();
        _weightSums.Dispose();
    }
}
