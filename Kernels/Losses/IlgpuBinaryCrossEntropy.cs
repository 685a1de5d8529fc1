using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Masked binary cross-entropy with logits on ILGPU (maths: docs/maths.md §19.3; the element-by-element reference is
/// <see cref="BinaryCrossEntropyReference"/>). The forward is the masked losses' two-pass reduction (loss terms and the
/// labelled count per group, then <c>FinishMasked</c>), writing σ(z) for every element on the way; the backward is one
/// thread per element reading n and the upstream scalar on the device. ILGPU has no log1p: log1p(e) = log(u)·e/(u − 1)
/// with u = 1 + e (the identity the CPU path and the reference use).
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, Dense, Dense>? _binaryCrossEntropyPartials;
    private Action<AcceleratorStream, Index1D, Dense, Labels, Dense, Dense, Dense, int>? _binaryCrossEntropyBackward;
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, Dense>? _countCorrectBinary;

    /// <inheritdoc/>
    public override void CountCorrectBinary(View<float> logits, View<int> labels, View<float> count)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1);
        KernelChecks.Scalar(this, count, nameof(count));
        int groups = ReductionGroups(logits.Length);
        _countCorrectBinary ??= Accelerator.LoadKernel<Dense, Labels, int, Dense>(CountCorrectBinaryKernel);
        _countCorrectBinary(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), logits.Length, Partials);
        FinishReduction(groups, 1f, count);
    }

    /// <summary>Per group: the labelled elements whose prediction [z &gt; 0] is the label.</summary>
    internal static void CountCorrectBinaryKernel(Dense logits, Labels labels, int n, Dense partials)
    {
        float correct = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            int y = labels[i];
            if (y >= 0 && (logits[i] > 0 ? 1 : 0) == y) correct += 1;
        }
        correct = GroupSumToFirst(correct);
        if (Group.IsFirstThread) partials[Grid.IdxX] = correct;
    }

    /// <inheritdoc/>
    public override void MaskedBinaryCrossEntropyForward(View<float> logits, View<int> labels, View<float> probabilities, View<float> loss, View<float> count)
    {
        MaskedLossChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1, count);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        int groups = ReductionGroups(logits.Length);
        _binaryCrossEntropyPartials ??= Accelerator.LoadKernel<Dense, Labels, int, Dense, Dense>(MaskedBinaryCrossEntropyPartialsKernel);
        _binaryCrossEntropyPartials(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), logits.Length, probabilities.Ilgpu(), MaskedPartials);
        FinishMasked(groups, loss, count);
    }

    /// <inheritdoc/>
    public override void MaskedBinaryCrossEntropyBackward(View<float> probabilities, View<int> labels, View<float> count, View<float> upstream, View<float> dLogits, bool accumulate)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        _binaryCrossEntropyBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, Dense, Dense, Dense, int>(MaskedBinaryCrossEntropyBackwardKernel);
        _binaryCrossEntropyBackward(Launched(), probabilities.Length, probabilities.Ilgpu(), labels.Ilgpu(), count.Ilgpu(), upstream.Ilgpu(), dLogits.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>Per element: pᵢ = σ(zᵢ); per group, Σ over labelled i of max(zᵢ, 0) − zᵢyᵢ + log1p(e^{−|zᵢ|}) into
    /// partials[g] and the labelled count into partials[MaxReductionGroups + g]. A label above 1 makes the sum NaN.</summary>
    internal static void MaskedBinaryCrossEntropyPartialsKernel(Dense logits, Labels labels, int n, Dense probabilities, Dense partials)
    {
        float sum = 0, labelled = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float z = logits[i];
            float e = XMath.Exp(-XMath.Abs(z));     // ∈ (0, 1]: never overflows
            float u = 1 + e;
            probabilities[i] = (z >= 0 ? 1 : e) / u;  // σ(z)
            int y = labels[i];
            if (y >= 0)
            {
                float log1p = u == 1 ? e : XMath.Log(u) * (e / (u - 1));
                sum += y <= 1 ? XMath.Max(z, 0) - z * y + log1p : float.NaN;
                labelled += 1;
            }
        }
        sum = GroupSumToFirst(sum);
        labelled = GroupSumToFirst(labelled);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = sum; partials[MaxReductionGroups + Grid.IdxX] = labelled; }
    }

    /// <summary>dz (+)= (upstream/max(n, 1))·(σ(z) − y) for labelled elements, (+)= 0 for the others.</summary>
    internal static void MaskedBinaryCrossEntropyBackwardKernel(Index1D i, Dense probabilities, Labels labels, Dense count, Dense upstream, Dense dLogits, int accumulate)
    {
        int y = labels[i];
        float n = count[0];
        float c = upstream[0] / (n > 1 ? n : 1);
        float d = y < 0 ? 0 : y <= 1 ? c * (probabilities[i] - y) : float.NaN;
        dLogits[i] = accumulate != 0 ? dLogits[i] + d : d;
    }
}
