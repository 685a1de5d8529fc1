namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// The sums of a sample-weighted accuracy (maths §19.11) of a batch×classes matrix of logits, each row r with weight
    /// sᵣ = <c>rowWeights[r]</c>: <c>sums[0] = Σ sᵣ·1[argmaxⱼ z_rj = yᵣ]</c> (ties go to the lowest index, as
    /// <see cref="CountCorrect"/>) and <c>sums[1] = Σ sᵣ</c> over the labelled rows (yᵣ ≥ 0); the accuracy is sums[0]/sums[1].
    /// Weights ≡ 1 give <see cref="CountCorrect"/>'s count and the labelled count.
    /// </summary>
    public abstract void WeightedCountCorrect(View<T> logits, View<int> labels, View<T> rowWeights, int batch, int classes, View<T> sums);

    /// <summary>
    /// The sums of a sample-weighted accuracy of binary logits [rows × k] (a binary task k = 1, a multi-label task's k labels):
    /// element i is in row i / k with weight sᵣ = <c>rowWeights[i / k]</c>, k = logits.Length / rowWeights.Length;
    /// <c>sums[0] = Σ sᵣ·1[[zᵢ &gt; 0] = yᵢ]</c> and <c>sums[1] = Σ sᵣ</c> over the labelled elements (yᵢ ≥ 0), as
    /// <see cref="CountCorrectBinary"/> counts them.
    /// </summary>
    public abstract void WeightedCountCorrectBinary(View<T> logits, View<int> labels, View<T> rowWeights, View<T> sums);
}
