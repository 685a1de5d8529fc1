using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// What a training step needs for the tasks that train with a weighted loss: a classification task's label smoothing and
/// class weights (maths §19.9, <see cref="TaskHead.LabelSmoothing"/>, <see cref="TaskHead.ClassWeights"/>) or a binary or
/// multi-label task's positive weights (§19.10, <see cref="TaskHead.PositiveWeights"/>) or a binary task's label smoothing
/// (§19.13, through §19.10's kernels with p ≡ 1 when it has no positive weights): those weights on the device
/// (uploaded once, here) and a device scalar per task for the batch's denominator D. Tasks without any keep the masked
/// losses of §19.1 and §19.3, bit for bit as before.
/// </summary>
internal sealed class TaskLossWeights : IDisposable
{
    private readonly DeviceBuffer<float>?[] _weights;
    private readonly DeviceBuffer<float> _weightSums;
    private readonly IReadOnlyList<TaskHead> _heads;

    public TaskLossWeights(Backend<float> backend, IReadOnlyList<TaskHead> heads)
    {
        _heads = heads;
        _weights = new DeviceBuffer<float>?[heads.Count];
        _weightSums = backend.Allocate<float>(heads.Count);
        for (int t = 0; t < heads.Count; t++)
            if ((heads[t].ClassWeights ?? heads[t].PositiveWeights ?? (heads[t].UsesWeightedBinaryCrossEntropy ? Enumerable.Repeat(1.0, heads[t].Outputs).ToArray() : null)) is { } w)
                _weights[t] = backend.Allocate<float>([.. w.Select(v => (float)v)]);
    }

    /// <summary>A classification task's loss on the tape, its labelled count written to <paramref name="count"/>: §19.9's for a
    /// task with smoothing or class weights, §19.1's masked cross-entropy otherwise.</summary>
    public Tensor<float> Record(Tape<float> tape, int t, Tensor<float> logits, Labels labels, View<float> count) =>
        _heads[t].UsesWeightedCrossEntropy
            ? tape.WeightedSoftmaxCrossEntropy(logits, labels, default, _weights[t]?.View ?? default, (float)(_heads[t].LabelSmoothing ?? 0),
                count, _weightSums.Slice(t, 1))
            : tape.MaskedSoftmaxCrossEntropy(logits, labels, count);

    /// <summary>A binary or multi-label task's loss on the tape: §19.10's with positive weights or label smoothing (§19.13),
    /// §19.3's masked BCE otherwise.</summary>
    public Tensor<float> RecordBinary(Tape<float> tape, int t, Tensor<float> logits, Labels labels, View<float> count) =>
        _heads[t].UsesWeightedBinaryCrossEntropy
            ? tape.PositiveWeightedBinaryCrossEntropy(logits, labels, default, _weights[t]!.View, count, _weightSums.Slice(t, 1), (float)(_heads[t].LabelSmoothing ?? 0))
            : tape.MaskedBinaryCrossEntropy(logits, labels, count);

    public void Dispose()
    {
        foreach (var b in _weights) b?.Dispose();
        _weightSums.Dispose();
    }
}
