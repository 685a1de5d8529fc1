namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void MseForward(View<float> prediction, View<float> target, View<float> loss) => throw new NotImplementedException("Ilgpu MseForward: not written yet.");

    /// <inheritdoc/>
    public override void MseBackward(View<float> prediction, View<float> target, View<float> upstream, View<float> dPrediction, bool accumulate) => throw new NotImplementedException("Ilgpu MseBackward: not written yet.");

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyForward(View<float> logits, View<int> labels, int batch, int classes, View<float> probabilities, View<float> loss) => throw new NotImplementedException("Ilgpu SoftmaxCrossEntropyForward: not written yet.");

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyBackward(View<float> probabilities, View<int> labels, int batch, int classes, View<float> upstream, View<float> dLogits, bool accumulate) => throw new NotImplementedException("Ilgpu SoftmaxCrossEntropyBackward: not written yet.");

    /// <inheritdoc/>
    public override void CountCorrect(View<float> logits, View<int> labels, int batch, int classes, View<float> count) => throw new NotImplementedException("Ilgpu CountCorrect: not written yet.");
}
