namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void MseForward(View<T> prediction, View<T> target, View<T> loss) => throw new NotImplementedException("Cpu MseForward: not written yet.");

    /// <inheritdoc/>
    public override void MseBackward(View<T> prediction, View<T> target, View<T> upstream, View<T> dPrediction, bool accumulate) => throw new NotImplementedException("Cpu MseBackward: not written yet.");

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes, View<T> probabilities, View<T> loss) => throw new NotImplementedException("Cpu SoftmaxCrossEntropyForward: not written yet.");

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes, View<T> upstream, View<T> dLogits, bool accumulate) => throw new NotImplementedException("Cpu SoftmaxCrossEntropyBackward: not written yet.");

    /// <inheritdoc/>
    public override void CountCorrect(View<T> logits, View<int> labels, int batch, int classes, View<T> count) => throw new NotImplementedException("Cpu CountCorrect: not written yet.");
}
