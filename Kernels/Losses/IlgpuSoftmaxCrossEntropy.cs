using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Softmax cross-entropy and the accuracy count on ILGPU (maths: docs/maths.md §9,
/// "Softmax cross-entropy"). Forward and count run one row per thread (rows grid-strided over an
/// explicitly grouped launch), add their row results with the group tree, and finish with the
/// second reduction pass (scale 1/B for the loss, 1 for the count). One row per thread suits the
/// few-class heads this engine trains; very wide rows (thousands of classes) would want a row per group.
/// The backward pass is one thread per element.
/// Labels are not range-checked on the host (that would need a device read); a label outside
/// [0, classes) makes the loss NaN and its row's gradient NaN instead of reading out of bounds.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, int, Dense, Dense>? _crossEntropyForward;
    private Action<AcceleratorStream, Index1D, Dense, Labels, int, int, Dense, Dense, int>? _crossEntropyBackward;
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, int, Dense>? _countCorrect;

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyForward(View<float> logits, View<int> labels, int batch, int classes, View<float> probabilities, View<float> loss)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, batch, classes);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        int groups = ReductionGroups(batch, classes);
        _crossEntropyForward ??= Accelerator.LoadKernel<Dense, Labels, int, int, Dense, Dense>(CrossEntropyForwardKernel);
        _crossEntropyForward(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), batch, classes, probabilities.Ilgpu(), Partials);
        FinishReduction(groups, 1f / batch, loss);
    }

    /// <inheritdoc/>
    public override void SoftmaxCrossEntropyBackward(View<float> probabilities, View<int> labels, int batch, int classes, View<float> upstream, View<float> dLogits, bool accumulate)
    {
        KernelChecks.Classification(this, probabilities, nameof(probabilities), labels, batch, classes);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        _crossEntropyBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, int, int, Dense, Dense, int>(CrossEntropyBackwardKernel);
        _crossEntropyBackward(Launched(), batch * classes, probabilities.Ilgpu(), labels.Ilgpu(), batch, classes, upstream.Ilgpu(), dLogits.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void CountCorrect(View<float> logits, View<int> labels, int batch, int classes, View<float> count)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, batch, classes);
        KernelChecks.Scalar(this, count, nameof(count));
        int groups = ReductionGroups(batch, classes);
        _countCorrect ??= Accelerator.LoadKernel<Dense, Labels, int, int, Dense>(CountCorrectKernel);
        _countCorrect(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), batch, classes, Partials);
        FinishReduction(groups, 1f, count);
    }

    /// <summary>Per row: m = max z, p = e^{z−m}/Σe^{z−m} saved, row loss log Σe^{z−m} − (z_y − m); partial sums per group.</summary>
    internal static void CrossEntropyForwardKernel(Dense logits, Labels labels, int batch, int classes, Dense probabilities, Dense partials)
    {
        float sum = 0;
        for (int i = Grid.GlobalIndex.X; i < batch; i += Grid.DimX * Group.DimX)
        {
            int row = i * classes;
            float m = logits[row];
            for (int j = 1; j < classes; j++) m = XMath.Max(m, logits[row + j]);
            int label = labels[i];
            bool valid = (uint)label < (uint)classes;
            float labelLogit = valid ? logits[row + label] : 0;   // read before p (which may be z) is written
            float s = 0;
            for (int j = 0; j < classes; j++)
            {
                float e = XMath.Exp(logits[row + j] - m);         // z − m ≤ 0: no overflow
                probabilities[row + j] = e;
                s += e;                                           // ≥ 1 (the maximum gives e⁰)
            }
            for (int j = 0; j < classes; j++) probabilities[row + j] /= s;
            sum += valid ? XMath.Log(s) - (labelLogit - m) : float.NaN;
        }
        sum = GroupSumToFirst(sum);
        if (Group.IsFirstThread) partials[Grid.IdxX] = sum;
    }

    /// <summary>dz (+)= (upstream/B)·(p − onehot(y)), one element per thread.</summary>
    internal static void CrossEntropyBackwardKernel(Index1D index, Dense probabilities, Labels labels, int batch, int classes, Dense upstream, Dense dLogits, int accumulate)
    {
        int i = index / classes, j = index - i * classes;
        int label = labels[i];
        float c = upstream[0] / batch;
        float d = (uint)label < (uint)classes ? c * (probabilities[index] - (j == label ? 1 : 0)) : float.NaN;
        dLogits[index] = accumulate != 0 ? dLogits[index] + d : d;
    }

    /// <summary>Per row: 1 when the first largest logit is at the label; partial counts per group.</summary>
    internal static void CountCorrectKernel(Dense logits, Labels labels, int batch, int classes, Dense partials)
    {
        float correct = 0;
        for (int i = Grid.GlobalIndex.X; i < batch; i += Grid.DimX * Group.DimX)
        {
            int row = i * classes, best = 0;
            float bestValue = logits[row];
            for (int j = 1; j < classes; j++)
            {
                float v = logits[row + j];
                if (v > bestValue) { bestValue = v; best = j; } // strict: ties keep the lowest index
            }
            if (best == labels[i]) correct += 1;
        }
        correct = GroupSumToFirst(correct);
        if (Group.IsFirstThread) partials[Grid.IdxX] = correct;
    }
}
