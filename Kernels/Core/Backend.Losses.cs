namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>Mean squared error over all elements: <c>loss[0] = (1/N)·Σ (p − t)²</c>.</summary>
    public abstract void MseForward(View<T> prediction, View<T> target, View<T> loss);

    /// <summary><c>dPrediction (+)= upstream[0]·2(p − t)/N</c>.</summary>
    public abstract void MseBackward(View<T> prediction, View<T> target, View<T> upstream, View<T> dPrediction, bool accumulate);

    /// <summary>
    /// Softmax cross-entropy with class-index targets, mean over the batch, numerically stable:
    /// <c>pᵢ = softmax(zᵢ − max zᵢ)</c> is saved in <paramref name="probabilities"/> (batch×classes), and
    /// <c>loss[0] = −(1/B)·Σᵢ log p[i, yᵢ]</c> computed as <c>(1/B)·Σᵢ (logΣⱼ e^{z_ij − mᵢ} − (z_{i,yᵢ} − mᵢ))</c>.
    /// Labels must lie in [0, classes): validated where they enter the engine, not here.
    /// </summary>
    public abstract void SoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes, View<T> probabilities, View<T> loss);

    /// <summary><c>dLogits (+)= upstream[0]·(p − onehot(y))/B</c> from the saved probabilities.</summary>
    public abstract void SoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes, View<T> upstream, View<T> dLogits, bool accumulate);

    /// <summary><c>count[0] = #{ i : argmaxⱼ logits[i, j] = labels[i] }</c> (ties go to the lowest index); a negative label
    /// (<see cref="MissingLabel.Class"/>, no label) is never counted.</summary>
    public abstract void CountCorrect(View<T> logits, View<int> labels, int batch, int classes, View<T> count);
}
