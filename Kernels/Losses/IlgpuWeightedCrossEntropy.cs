using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Weighted, label-smoothed, masked softmax cross-entropy on ILGPU (maths: docs/maths.md §19.9; the row-by-row reference is
/// <see cref="WeightedCrossEntropyReference"/>). The forward is a two-pass reduction of three sums at once (Σ ℓᵣ, n, D):
/// pass 1 is one thread per row (grid-stride) writing the softmax and a triple of partials per group, pass 2 (one group)
/// writes <c>loss = Σ ℓ / D</c> (0 when D = 0), <c>count = n</c>, <c>weightSum = D</c>. The backward is one thread per element
/// reading D and the upstream scalar on the device. Absent row or class weights are a flag and a 1-element dummy view.
/// </summary>
public sealed partial class IlgpuBackend
{
    private MemoryBuffer1D<float, Stride1D.Dense>? _weightedPartials;   // [3 × MaxReductionGroups]: Σ ℓ, n, D
    private MemoryBuffer1D<float, Stride1D.Dense>? _noWeights;          // the 1-element view passed for absent weights
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, Dense, Dense, LossWeighting, int, Dense, Dense>? _weightedPartialsKernel;
    private Action<AcceleratorStream, KernelConfig, Dense, int, Dense, Dense, Dense>? _weightedFinish;
    private Action<AcceleratorStream, Index1D, Dense, Labels, Dense, Dense, LossWeighting, Dense, Dense, Dense, int>? _weightedBackward;

    /// <summary>The scalar settings of the weighted cross-entropy kernels, passed by value.</summary>
    internal struct LossWeighting
    {
        public int Classes, HasRowWeights, HasClassWeights;
        public float Smoothing, ClassWeightSum;
    }

    /// <inheritdoc/>
    public override void WeightedSoftmaxCrossEntropyForward(View<float> logits, View<int> labels, View<float> rowWeights, View<float> classWeights,
        float smoothing, int batch, int classes, View<float> probabilities, View<float> loss, View<float> count, View<float> weightSum)
    {
        MaskedLossChecks.Weighted(this, logits, nameof(logits), labels, batch, classes, rowWeights, classWeights, smoothing, weightSum);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        KernelChecks.Scalar(this, count, nameof(count));
        int groups = ReductionGroups(batch, 2 * classes);
        var partials = WeightedPartials;
        _weightedPartialsKernel ??= Accelerator.LoadKernel<Dense, Labels, Dense, Dense, LossWeighting, int, Dense, Dense>(WeightedCrossEntropyPartialsKernel);
        _weightedPartialsKernel(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), WeightsOrDummy(rowWeights), WeightsOrDummy(classWeights),
            Settings(rowWeights, classWeights, smoothing, classes), batch, probabilities.Ilgpu(), partials);
        FinishWeighted(groups, loss, count, weightSum);
    }

    private Dense WeightedPartials => (_weightedPartials ??= Accelerator.Allocate1D<float>(3 * MaxReductionGroups)).View;

    /// <summary>Pass 2 of the weighted losses: loss = Σ ℓ / D (0 when D = 0), count = n, weightSum = D.</summary>
    private void FinishWeighted(int groups, View<float> loss, View<float> count, View<float> weightSum)
    {
        _weightedFinish ??= Accelerator.LoadKernel<Dense, int, Dense, Dense, Dense>(WeightedFinishKernel);
        _weightedFinish(Launched(), new KernelConfig(1, GroupSize), WeightedPartials, groups, loss.Ilgpu(), count.Ilgpu(), weightSum.Ilgpu());
    }

    /// <inheritdoc/>
    public override void WeightedSoftmaxCrossEntropyBackward(View<float> probabilities, View<int> labels, View<float> rowWeights, View<float> classWeights,
        float smoothing, int batch, int classes, View<float> weightSum, View<float> upstream, View<float> dLogits, bool accumulate)
    {
        MaskedLossChecks.Weighted(this, probabilities, nameof(probabilities), labels, batch, classes, rowWeights, classWeights, smoothing, weightSum);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        _weightedBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, Dense, Dense, LossWeighting, Dense, Dense, Dense, int>(WeightedCrossEntropyBackwardKernel);
        _weightedBackward(Launched(), batch * classes, probabilities.Ilgpu(), labels.Ilgpu(), WeightsOrDummy(rowWeights), WeightsOrDummy(classWeights),
            Settings(rowWeights, classWeights, smoothing, classes), weightSum.Ilgpu(), upstream.Ilgpu(), dLogits.Ilgpu(), accumulate ? 1 : 0);
    }

    private Dense WeightsOrDummy(View<float> weights) =>
        weights.IsEmpty ? (_noWeights ??= Accelerator.Allocate1D<float>(1)).View : weights.Ilgpu();

    /// <summary>The kernels' settings. W = Σ_k w_k is formed on the host only without class weights (W = K); with them the
    /// kernels add the K weights themselves, so nothing is read from the device.</summary>
    private static LossWeighting Settings(View<float> rowWeights, View<float> classWeights, float smoothing, int classes) => new()
    {
        Classes = classes, HasRowWeights = rowWeights.IsEmpty ? 0 : 1, HasClassWeights = classWeights.IsEmpty ? 0 : 1,
        Smoothing = smoothing, ClassWeightSum = classes,
    };

    /// <summary>Σ_k w_k on the device (K without class weights).</summary>
    private static float ClassWeightSum(Dense classWeights, LossWeighting o)
    {
        if (o.HasClassWeights == 0) return o.ClassWeightSum;
        float sum = 0;
        for (int k = 0; k < o.Classes; k++) sum += classWeights[k];
        return sum;
    }

    /// <summary>Per row: the softmax saved for every row; per group, Σ ℓᵣ, the labelled count and Σ sᵣ·w_{yᵣ} into
    /// partials[g], partials[MaxReductionGroups + g], partials[2·MaxReductionGroups + g]. A label ≥ classes makes the sum NaN.</summary>
    internal static void WeightedCrossEntropyPartialsKernel(Dense logits, Labels labels, Dense rowWeights, Dense classWeights, LossWeighting o,
        int batch, Dense probabilities, Dense partials)
    {
        int classes = o.Classes;
        float total = 0, labelled = 0, denominator = 0;
        float w = ClassWeightSum(classWeights, o);
        for (int i = Grid.GlobalIndex.X; i < batch; i += Grid.DimX * Group.DimX)
        {
            int row = i * classes;
            float m = logits[row];
            for (int j = 1; j < classes; j++) m = XMath.Max(m, logits[row + j]);
            int label = labels[i];
            bool valid = label < classes;
            float s = 0, shifted = 0;
            for (int j = 0; j < classes; j++)
            {
                float d = logits[row + j] - m;
                shifted += (o.HasClassWeights != 0 ? classWeights[j] : 1) * d;   // Σ_k w_k (z_k − m)
                float e = XMath.Exp(d);
                probabilities[row + j] = e;
                s += e;
            }
            for (int j = 0; j < classes; j++) probabilities[row + j] /= s;
            if (label < 0) continue;
            labelled += 1;
            if (!valid) { total = float.NaN; continue; }
            float rw = o.HasRowWeights != 0 ? rowWeights[i] : 1;
            float wy = o.HasClassWeights != 0 ? classWeights[label] : 1;
            denominator += rw * wy;
            if (rw == 0) continue;
            float logSum = XMath.Log(s);
            float rowLoss = (1 - o.Smoothing) * wy * (logSum - (logits[row + label] - m));
            if (o.Smoothing != 0) rowLoss += o.Smoothing / classes * (w * logSum - shifted);
            total += rw * rowLoss;
        }
        total = GroupSumToFirst(total);
        labelled = GroupSumToFirst(labelled);
        denominator = GroupSumToFirst(denominator);
        if (Group.IsFirstThread)
        {
            partials[Grid.IdxX] = total;
            partials[MaxReductionGroups + Grid.IdxX] = labelled;
            partials[2 * MaxReductionGroups + Grid.IdxX] = denominator;
        }
    }

    /// <summary>Pass 2: loss = Σ ℓ / D (0 when D = 0), count = n, weightSum = D.</summary>
    internal static void WeightedFinishKernel(Dense partials, int groups, Dense loss, Dense count, Dense weightSum)
    {
        float total = 0, n = 0, d = 0;
        for (int i = Group.IdxX; i < groups; i += Group.DimX)
        {
            total += partials[i];
            n += partials[MaxReductionGroups + i];
            d += partials[2 * MaxReductionGroups + i];
        }
        total = GroupSumToFirst(total);
        n = GroupSumToFirst(n);
        d = GroupSumToFirst(d);
        if (Group.IsFirstThread)
        {
            count[0] = n;
            weightSum[0] = d;
            loss[0] = d > 0 ? total / d : 0;
        }
    }

    /// <summary>dz (+)= (upstream/D)·sᵣ·(Qᵣ·p − q) for labelled rows, (+)= 0 for the others and when D = 0.</summary>
    internal static void WeightedCrossEntropyBackwardKernel(Index1D index, Dense probabilities, Labels labels, Dense rowWeights, Dense classWeights,
        LossWeighting o, Dense weightSum, Dense upstream, Dense dLogits, int accumulate)
    {
        int classes = o.Classes;
        int i = index / classes, j = index - i * classes;
        int label = labels[i];
        float d0 = weightSum[0];
        float g = 0;
        if (label >= classes) g = float.NaN;
        else if (label >= 0 && d0 > 0)
        {
            float rw = o.HasRowWeights != 0 ? rowWeights[i] : 1;
            float wy = o.HasClassWeights != 0 ? classWeights[label] : 1;
            float wj = o.HasClassWeights != 0 ? classWeights[j] : 1;
            float spread = o.Smoothing / classes;
            float q = (j == label ? (1 - o.Smoothing) * wy : 0) + spread * wj;
            float total = (1 - o.Smoothing) * wy + spread * ClassWeightSum(classWeights, o);
            g = rw == 0 ? 0 : upstream[0] / d0 * rw * (total * probabilities[index] - q);
        }
        dLogits[index] = accumulate != 0 ? dLogits[index] + g : g;
    }
}
