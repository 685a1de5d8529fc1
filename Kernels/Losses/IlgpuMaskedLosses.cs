using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Masked MSE, masked softmax cross-entropy and the masked difference on ILGPU (maths: docs/maths.md §19.1).
/// The forwards are two-pass reductions of two sums at once (the loss terms and the labelled count): pass 1 writes a
/// pair of partials per group into its own scratch, pass 2 (one group) adds them and writes
/// <c>count[0] = n</c> and <c>loss[0] = Σ/max(n, 1)</c>, so nothing is read on the host and an unlabelled batch gives 0.
/// The backwards are one thread per element and read n and the upstream scalar from device memory.
/// A NaN target is detected with <c>XMath.IsNaN</c> (not <c>t != t</c>, which an optimiser may fold).
/// </summary>
public sealed partial class IlgpuBackend
{
    private MemoryBuffer1D<float, Stride1D.Dense>? _maskedPartials;   // [2 × MaxReductionGroups]: sums, then counts
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, int, Dense>? _maskedMsePartials;
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, int, Dense, Dense>? _maskedCrossEntropyPartials;
    private Action<AcceleratorStream, KernelConfig, Dense, int, Dense, Dense>? _maskedFinish;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense, Dense, int>? _maskedMseBackward;
    private Action<AcceleratorStream, Index1D, Dense, Labels, int, Dense, Dense, Dense, int>? _maskedCrossEntropyBackward;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense>? _maskedDifference;
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, int, int, Dense>? _weightedMsePartials;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, Dense, Dense, Dense, int>? _weightedMseBackward;

    private Dense MaskedPartials => (_maskedPartials ??= Accelerator.Allocate1D<float>(2 * MaxReductionGroups)).View;

    /// <inheritdoc/>
    public override void MaskedMseForward(View<float> prediction, View<float> target, View<float> loss, View<float> count,
        View<float> rowWeights = default, View<float> weightSum = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        if (!rowWeights.IsEmpty)
        {
            // §19.11: the three-sum reduction of the weighted losses (Σ sᵣmᵢdᵢ², n, D), finished by WeightedFinishKernel.
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            KernelChecks.Scalar(this, weightSum, nameof(weightSum));
            int wgroups = ReductionGroups(prediction.Length);
            _weightedMsePartials ??= Accelerator.LoadKernel<Dense, Dense, Dense, int, int, Dense>(WeightedMsePartialsKernel);
            _weightedMsePartials(Launched(), new KernelConfig(wgroups, GroupSize), prediction.Ilgpu(), target.Ilgpu(), rowWeights.Ilgpu(),
                prediction.Length / rowWeights.Length, prediction.Length, WeightedPartials);
            FinishWeighted(wgroups, loss, count, weightSum);
            return;
        }
        int groups = ReductionGroups(prediction.Length);
        _maskedMsePartials ??= Accelerator.LoadKernel<Dense, Dense, int, Dense>(MaskedMsePartialsKernel);
        _maskedMsePartials(Launched(), new KernelConfig(groups, GroupSize), prediction.Ilgpu(), target.Ilgpu(), prediction.Length, MaskedPartials);
        FinishMasked(groups, loss, count);
    }

    /// <inheritdoc/>
    public override void MaskedMseBackward(View<float> prediction, View<float> target, View<float> count, View<float> upstream, View<float> dPrediction, bool accumulate,
        View<float> rowWeights = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        if (!rowWeights.IsEmpty)
        {
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            _weightedMseBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, Dense, Dense, Dense, int>(WeightedMseBackwardKernel);
            _weightedMseBackward(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), rowWeights.Ilgpu(), prediction.Length / rowWeights.Length,
                count.Ilgpu(), upstream.Ilgpu(), dPrediction.Ilgpu(), accumulate ? 1 : 0);
            return;
        }
        _maskedMseBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense, Dense, int>(MaskedMseBackwardKernel);
        _maskedMseBackward(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), count.Ilgpu(), upstream.Ilgpu(), dPrediction.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void MaskedDifference(View<float> prediction, View<float> target, View<float> difference, View<float> mask)
    {
        MaskedLossChecks.Difference(this, prediction, target, difference, mask);
        if (prediction.Length == 0) return;
        _maskedDifference ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense>(MaskedDifferenceKernel);
        _maskedDifference(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), difference.Ilgpu(), mask.Ilgpu());
    }

    /// <inheritdoc/>
    public override void MaskedSoftmaxCrossEntropyForward(View<float> logits, View<int> labels, int batch, int classes,
        View<float> probabilities, View<float> loss, View<float> count)
    {
        MaskedLossChecks.Classification(this, logits, nameof(logits), labels, batch, classes, count);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        int groups = ReductionGroups(batch, classes);
        _maskedCrossEntropyPartials ??= Accelerator.LoadKernel<Dense, Labels, int, int, Dense, Dense>(MaskedCrossEntropyPartialsKernel);
        _maskedCrossEntropyPartials(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), batch, classes, probabilities.Ilgpu(), MaskedPartials);
        FinishMasked(groups, loss, count);
    }

    /// <inheritdoc/>
    public override void MaskedSoftmaxCrossEntropyBackward(View<float> probabilities, View<int> labels, int batch, int classes,
        View<float> count, View<float> upstream, View<float> dLogits, bool accumulate)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, batch, classes, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        _maskedCrossEntropyBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, int, Dense, Dense, Dense, int>(MaskedCrossEntropyBackwardKernel);
        _maskedCrossEntropyBackward(Launched(), batch * classes, probabilities.Ilgpu(), labels.Ilgpu(), classes, count.Ilgpu(), upstream.Ilgpu(), dLogits.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>Pass 2: count[0] = Σ counts, loss[0] = Σ sums / max(count, 1).</summary>
    private void FinishMasked(int groups, View<float> loss, View<float> count)
    {
        _maskedFinish ??= Accelerator.LoadKernel<Dense, int, Dense, Dense>(MaskedFinishKernel);
        _maskedFinish(Launched(), new KernelConfig(1, GroupSize), MaskedPartials, groups, loss.Ilgpu(), count.Ilgpu());
    }

    /// <summary>Per group: Σ (p − t)² over present targets into partials[g], their number into partials[MaxReductionGroups + g].</summary>
    internal static void MaskedMsePartialsKernel(Dense prediction, Dense target, int n, Dense partials)
    {
        float sum = 0, present = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float t = target[i];
            if (!XMath.IsNaN(t)) { float d = prediction[i] - t; sum += d * d; present += 1; }
        }
        sum = GroupSumToFirst(sum);
        present = GroupSumToFirst(present);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = sum; partials[MaxReductionGroups + Grid.IdxX] = present; }
    }

    /// <summary>Per group: Σ sᵣ(p − t)², the present count and Σ sᵣ over present targets into the weighted partials
    /// (element i in row i / columns).</summary>
    internal static void WeightedMsePartialsKernel(Dense prediction, Dense target, Dense rowWeights, int columns, int n, Dense partials)
    {
        float sum = 0, present = 0, denominator = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float t = target[i];
            if (!XMath.IsNaN(t)) { float s = rowWeights[i / columns], d = prediction[i] - t; sum += s != 0 ? s * (d * d) : 0; present += 1; denominator += s; }
        }
        sum = GroupSumToFirst(sum);
        present = GroupSumToFirst(present);
        denominator = GroupSumToFirst(denominator);
        if (Group.IsFirstThread)
        {
            partials[Grid.IdxX] = sum;
            partials[MaxReductionGroups + Grid.IdxX] = present;
            partials[2 * MaxReductionGroups + Grid.IdxX] = denominator;
        }
    }

    /// <summary>dp (+)= 2·upstream·sᵣ(p − t)/D where t is present and D &gt; 0, (+)= 0 otherwise.</summary>
    internal static void WeightedMseBackwardKernel(Index1D i, Dense prediction, Dense target, Dense rowWeights, int columns, Dense weightSum, Dense upstream,
        Dense dPrediction, int accumulate)
    {
        float sum = weightSum[0], s = rowWeights[i / columns], t = target[i];
        float d = !XMath.IsNaN(t) && sum > 0 && s != 0 ? 2 * upstream[0] * s * (prediction[i] - t) / sum : 0;
        dPrediction[i] = accumulate != 0 ? dPrediction[i] + d : d;
    }

    /// <summary>Per row: the softmax saved for every row; the labelled rows' losses and their number, per group.</summary>
    internal static void MaskedCrossEntropyPartialsKernel(Dense logits, Labels labels, int batch, int classes, Dense probabilities, Dense partials)
    {
        float sum = 0, labelled = 0;
        for (int i = Grid.GlobalIndex.X; i < batch; i += Grid.DimX * Group.DimX)
        {
            int row = i * classes;
            float m = logits[row];
            for (int j = 1; j < classes; j++) m = XMath.Max(m, logits[row + j]);
            int label = labels[i];
            bool valid = label < classes;                          // label < 0: no label; label ≥ classes: NaN below
            float labelLogit = label >= 0 && valid ? logits[row + label] : 0;
            float s = 0;
            for (int j = 0; j < classes; j++)
            {
                float e = XMath.Exp(logits[row + j] - m);
                probabilities[row + j] = e;
                s += e;
            }
            for (int j = 0; j < classes; j++) probabilities[row + j] /= s;
            if (label >= 0)
            {
                sum += valid ? XMath.Log(s) - (labelLogit - m) : float.NaN;
                labelled += 1;
            }
        }
        sum = GroupSumToFirst(sum);
        labelled = GroupSumToFirst(labelled);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = sum; partials[MaxReductionGroups + Grid.IdxX] = labelled; }
    }

    internal static void MaskedFinishKernel(Dense partials, int groups, Dense loss, Dense count)
    {
        float sum = 0, n = 0;
        for (int i = Group.IdxX; i < groups; i += Group.DimX) { sum += partials[i]; n += partials[MaxReductionGroups + i]; }
        sum = GroupSumToFirst(sum);
        n = GroupSumToFirst(n);
        if (Group.IsFirstThread)
        {
            count[0] = n;
            loss[0] = sum / (n > 1 ? n : 1);
        }
    }

    /// <summary>dp (+)= c·(p − t) with c = 2·upstream/max(n, 1) where t is present, (+)= 0 where it is NaN.</summary>
    internal static void MaskedMseBackwardKernel(Index1D i, Dense prediction, Dense target, Dense count, Dense upstream, Dense dPrediction, int accumulate)
    {
        float n = count[0];
        float c = 2 * upstream[0] / (n > 1 ? n : 1);
        float t = target[i];
        float d = !XMath.IsNaN(t) ? c * (prediction[i] - t) : 0;
        dPrediction[i] = accumulate != 0 ? dPrediction[i] + d : d;
    }

    /// <summary>dz (+)= (upstream/max(n, 1))·(p − onehot(y)) for labelled rows, (+)= 0 for the others.</summary>
    internal static void MaskedCrossEntropyBackwardKernel(Index1D index, Dense probabilities, Labels labels, int classes, Dense count, Dense upstream, Dense dLogits, int accumulate)
    {
        int i = index / classes, j = index - i * classes;
        int label = labels[i];
        float n = count[0];
        float c = upstream[0] / (n > 1 ? n : 1);
        float d = label < 0 ? 0 : label < classes ? c * (probabilities[index] - (j == label ? 1 : 0)) : float.NaN;
        dLogits[index] = accumulate != 0 ? dLogits[index] + d : d;
    }

    /// <summary>d = p − t and m = 1 where t is present; d = 0, m = 0 where t is NaN.</summary>
    internal static void MaskedDifferenceKernel(Index1D i, Dense prediction, Dense target, Dense difference, Dense mask)
    {
        float t = target[i];
        bool present = !XMath.IsNaN(t);
        difference[i] = present ? prediction[i] - t : 0;
        mask[i] = present ? 1 : 0;
    }
}
