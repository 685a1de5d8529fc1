using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>) on ILGPU (maths: docs/maths.md §19.7; the
/// element-by-element reference is <see cref="ProbabilityCrossEntropyReference"/>). The forward is the masked losses'
/// two-pass reduction (loss terms and labelled count per group, then <c>FinishMasked</c>); the backward one thread per
/// element reading n and the upstream scalar on the device. log1p(−p) = log(u)·(−p)/(u − 1) with u = 1 − p (ILGPU has
/// no log1p; the identity the CPU path and the reference use).
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, int, Dense>? _probabilityCrossEntropyPartials;
    private Action<AcceleratorStream, Index1D, Dense, Labels, Dense, Dense, Dense, int>? _probabilityCrossEntropyBackward;
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, Dense, int, int, Dense>? _weightedProbabilityCrossEntropyPartials;
    private Action<AcceleratorStream, Index1D, Dense, Labels, Dense, int, Dense, Dense, Dense, int>? _weightedProbabilityCrossEntropyBackward;

    /// <inheritdoc/>
    public override void MaskedProbabilityCrossEntropyForward(View<float> probabilities, View<int> labels, View<float> loss, View<float> count,
        View<float> rowWeights = default, View<float> weightSum = default)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        if (!rowWeights.IsEmpty)
        {
            // §19.11: the three-sum reduction (Σ sᵣℓᵢ, n, D), finished by WeightedFinishKernel.
            MaskedLossChecks.RowWeights(this, probabilities, rowWeights);
            KernelChecks.Scalar(this, weightSum, nameof(weightSum));
            int wgroups = ReductionGroups(probabilities.Length);
            _weightedProbabilityCrossEntropyPartials ??= Accelerator.LoadKernel<Dense, Labels, Dense, int, int, Dense>(WeightedProbabilityCrossEntropyPartialsKernel);
            _weightedProbabilityCrossEntropyPartials(Launched(), new KernelConfig(wgroups, GroupSize), probabilities.Ilgpu(), labels.Ilgpu(), rowWeights.Ilgpu(),
                probabilities.Length / rowWeights.Length, probabilities.Length, WeightedPartials);
            FinishWeighted(wgroups, loss, count, weightSum);
            return;
        }
        int groups = ReductionGroups(probabilities.Length);
        _probabilityCrossEntropyPartials ??= Accelerator.LoadKernel<Dense, Labels, int, Dense>(MaskedProbabilityCrossEntropyPartialsKernel);
        _probabilityCrossEntropyPartials(Launched(), new KernelConfig(groups, GroupSize), probabilities.Ilgpu(), labels.Ilgpu(), probabilities.Length, MaskedPartials);
        FinishMasked(groups, loss, count);
    }

    /// <inheritdoc/>
    public override void MaskedProbabilityCrossEntropyBackward(View<float> probabilities, View<int> labels, View<float> count, View<float> upstream, View<float> dProbabilities, bool accumulate,
        View<float> rowWeights = default)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dProbabilities, nameof(dProbabilities));
        if (!rowWeights.IsEmpty)
        {
            MaskedLossChecks.RowWeights(this, probabilities, rowWeights);
            _weightedProbabilityCrossEntropyBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, Dense, int, Dense, Dense, Dense, int>(WeightedProbabilityCrossEntropyBackwardKernel);
            _weightedProbabilityCrossEntropyBackward(Launched(), probabilities.Length, probabilities.Ilgpu(), labels.Ilgpu(), rowWeights.Ilgpu(),
                probabilities.Length / rowWeights.Length, count.Ilgpu(), upstream.Ilgpu(), dProbabilities.Ilgpu(), accumulate ? 1 : 0);
            return;
        }
        _probabilityCrossEntropyBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, Dense, Dense, Dense, int>(MaskedProbabilityCrossEntropyBackwardKernel);
        _probabilityCrossEntropyBackward(Launched(), probabilities.Length, probabilities.Ilgpu(), labels.Ilgpu(), count.Ilgpu(), upstream.Ilgpu(), dProbabilities.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>Per group: Σ over labelled i of −[yᵢ·max(log pᵢ, −100) + (1 − yᵢ)·max(log1p(−pᵢ), −100)] into partials[g],
    /// the labelled count into partials[MaxReductionGroups + g]. A label above 1 makes the sum NaN.</summary>
    internal static void MaskedProbabilityCrossEntropyPartialsKernel(Dense probabilities, Labels labels, int n, Dense partials)
    {
        float sum = 0, labelled = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            int y = labels[i];
            if (y < 0) continue;
            float p = probabilities[i];
            float u = 1 - p;
            float log1m = u == 1 ? -p : XMath.Log(u) * (-p / (u - 1));
            float term = y == 1 ? -XMath.Max(XMath.Log(p), -100f) : -XMath.Max(log1m, -100f);
            sum += y <= 1 ? term : float.NaN;
            labelled += 1;
        }
        sum = GroupSumToFirst(sum);
        labelled = GroupSumToFirst(labelled);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = sum; partials[MaxReductionGroups + Grid.IdxX] = labelled; }
    }

    /// <summary>Per group: Σ sᵣℓᵢ over labelled elements (0 for a row of weight 0), their number and Σ sᵣ into the weighted
    /// partials (element i in row i / columns). A label above 1 makes the sum NaN.</summary>
    internal static void WeightedProbabilityCrossEntropyPartialsKernel(Dense probabilities, Labels labels, Dense rowWeights, int columns, int n, Dense partials)
    {
        float sum = 0, labelled = 0, denominator = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            int y = labels[i];
            if (y < 0) continue;
            float s = rowWeights[i / columns];
            float p = probabilities[i];
            float u = 1 - p;
            float log1m = u == 1 ? -p : XMath.Log(u) * (-p / (u - 1));
            float term = y == 1 ? -XMath.Max(XMath.Log(p), -100f) : -XMath.Max(log1m, -100f);
            sum += y > 1 ? float.NaN : s != 0 ? s * term : 0;
            labelled += 1;
            denominator += s;
        }
        sum = GroupSumToFirst(sum);
        labelled = GroupSumToFirst(labelled);
        denominator = GroupSumToFirst(denominator);
        if (Group.IsFirstThread)
        {
            partials[Grid.IdxX] = sum;
            partials[MaxReductionGroups + Grid.IdxX] = labelled;
            partials[2 * MaxReductionGroups + Grid.IdxX] = denominator;
        }
    }

    /// <summary>dp (+)= (upstream·sᵣ/D)·(p − y)/max(p(1 − p), 10⁻¹²) for labelled elements with sᵣ ≠ 0 and D &gt; 0, (+)= 0 otherwise.</summary>
    internal static void WeightedProbabilityCrossEntropyBackwardKernel(Index1D i, Dense probabilities, Labels labels, Dense rowWeights, int columns, Dense weightSum,
        Dense upstream, Dense dProbabilities, int accumulate)
    {
        int y = labels[i];
        float sum = weightSum[0], s = rowWeights[i / columns], p = probabilities[i];
        float d = y < 0 || s == 0 || !(sum > 0) ? 0 : y <= 1 ? upstream[0] * s / sum * (p - y) / XMath.Max(p * (1 - p), 1e-12f) : float.NaN;
        dProbabilities[i] = accumulate != 0 ? dProbabilities[i] + d : d;
    }

    /// <summary>dp (+)= (upstream/max(n, 1))·(p − y)/max(p(1 − p), 10⁻¹²) for labelled elements, (+)= 0 for the others.</summary>
    internal static void MaskedProbabilityCrossEntropyBackwardKernel(Index1D i, Dense probabilities, Labels labels, Dense count, Dense upstream, Dense dProbabilities, int accumulate)
    {
        int y = labels[i];
        float n = count[0];
        float p = probabilities[i];
        float c = upstream[0] / (n > 1 ? n : 1);
        float d = y < 0 ? 0 : y <= 1 ? c * (p - y) / XMath.Max(p * (1 - p), 1e-12f) : float.NaN;
        dProbabilities[i] = accumulate != 0 ? dProbabilities[i] + d : d;
    }
}
