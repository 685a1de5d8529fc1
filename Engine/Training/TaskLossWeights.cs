using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// What a training step needs for the classification tasks that train with the weighted/smoothed cross-entropy of
/// maths §19.9 (<see cref="TaskHead.LabelSmoothing"/>, <see cref="TaskHead.ClassWeights"/>): each such task's class
/// weights on the device (uploaded once, here) and a device scalar per task for the batch's denominator D = Σᵣ sᵣ·w_{yᵣ}.
/// Tasks without either keep the masked cross-entropy of §19.1, bit for bit as before.
/// </summary>
internal sealed class TaskLossWeights : IDisposable
{
    private readonly DeviceBuffer<float>?[] _classWeights;
    private readonly DeviceBuffer<float> _weightSums;
    private readonly IReadOnlyList<TaskHead> _heads;

    public TaskLossWeights(Backend<float> backend, IReadOnlyList<TaskHead> heads)
    {
        _heads = heads;
        _classWeights = new DeviceBuffer<float>?[heads.Count];
        _weightSums = backend.Allocate<float>(heads.Count);
        for (int t = 0; t < heads.Count; t++)
            if (heads[t].ClassWeights is { } w) _classWeights[t] = backend.Allocate<float>([.. w.Select(v => (float)v)]);
    }

    /// <summary>Task t's loss on the tape, its labelled count written to <paramref name="count"/>: §19.9's for a task with
    /// smoothing or class weights, §19.1's masked cross-entropy otherwise.</summary>
    public Tensor<float> Record(Tape<float> tape, int t, Tensor<float> logits, Labels labels, View<float> count) =>
        _heads[t].UsesWeightedCrossEntropy
            ? tape.WeightedSoftmaxCrossEntropy(logits, labels, default, _classWeights[t]?.View ?? default, (float)(_heads[t].LabelSmoothing ?? 0),
                count, _weightSums.Slice(t, 1))
            : tape.MaskedSoftmaxCrossEntropy(logits, labels, count);

    public void Dispose()
    {
        foreach (var b in _classWeights) b?.Dispose();
        _weightSums.Dispose();
    }
}
