using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Masked smooth-L1 (L1 and Huber) on ILGPU (maths: docs/maths.md §19.5): the masked two-pass reduction of §19.1 (terms
/// scaled per element, the labelled count beside them, <c>FinishMasked</c>), and a one-thread-per-element backward that
/// reads n and the upstream scalar on the device.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, int, float, float, Dense>? _smoothL1Partials;
    private Action<AcceleratorStream, Index1D, Dense, Dense, float, float, Dense, Dense, Dense, int>? _smoothL1Backward;
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, int, int, float, float, Dense>? _weightedSmoothL1Partials;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, float, float, Dense, Dense, Dense, int>? _weightedSmoothL1Backward;

    /// <inheritdoc/>
    public override void MaskedSmoothL1Forward(View<float> prediction, View<float> target, float beta, float scale, View<float> loss, View<float> count,
        View<float> rowWeights = default, View<float> weightSum = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        MaskedLossChecks.Beta(beta);
        if (!rowWeights.IsEmpty)
        {
            // §19.11: the three-sum reduction (Σ sᵣmᵢ·scale·sβ(dᵢ), n, D), finished by WeightedFinishKernel.
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            KernelChecks.Scalar(this, weightSum, nameof(weightSum));
            int wgroups = ReductionGroups(prediction.Length);
            _weightedSmoothL1Partials ??= Accelerator.LoadKernel<Dense, Dense, Dense, int, int, float, float, Dense>(WeightedSmoothL1PartialsKernel);
            _weightedSmoothL1Partials(Launched(), new KernelConfig(wgroups, GroupSize), prediction.Ilgpu(), target.Ilgpu(), rowWeights.Ilgpu(),
                prediction.Length / rowWeights.Length, prediction.Length, beta, scale, WeightedPartials);
            FinishWeighted(wgroups, loss, count, weightSum);
            return;
        }
        int groups = ReductionGroups(prediction.Length);
        _smoothL1Partials ??= Accelerator.LoadKernel<Dense, Dense, int, float, float, Dense>(MaskedSmoothL1PartialsKernel);
        _smoothL1Partials(Launched(), new KernelConfig(groups, GroupSize), prediction.Ilgpu(), target.Ilgpu(), prediction.Length, beta, scale, MaskedPartials);
        FinishMasked(groups, loss, count);
    }

    /// <inheritdoc/>
    public override void MaskedSmoothL1Backward(View<float> prediction, View<float> target, float beta, float scale, View<float> count, View<float> upstream, View<float> dPrediction, bool accumulate,
        View<float> rowWeights = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        MaskedLossChecks.Beta(beta);
        if (!rowWeights.IsEmpty)
        {
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            _weightedSmoothL1Backward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, float, float, Dense, Dense, Dense, int>(WeightedSmoothL1BackwardKernel);
            _weightedSmoothL1Backward(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), rowWeights.Ilgpu(), prediction.Length / rowWeights.Length,
                beta, scale, count.Ilgpu(), upstream.Ilgpu(), dPrediction.Ilgpu(), accumulate ? 1 : 0);
            return;
        }
        _smoothL1Backward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, float, float, Dense, Dense, Dense, int>(MaskedSmoothL1BackwardKernel);
        _smoothL1Backward(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), beta, scale, count.Ilgpu(), upstream.Ilgpu(), dPrediction.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>Per group: Σ scale·sβ(p − t) over present targets into partials[g], their number into partials[MaxReductionGroups + g].</summary>
    internal static void MaskedSmoothL1PartialsKernel(Dense prediction, Dense target, int n, float beta, float scale, Dense partials)
    {
        float sum = 0, present = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float t = target[i];
            if (XMath.IsNaN(t)) continue;
            float a = XMath.Abs(prediction[i] - t);
            sum += scale * (a < beta ? a * a / (2 * beta) : a - 0.5f * beta);
            present += 1;
        }
        sum = GroupSumToFirst(sum);
        present = GroupSumToFirst(present);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = sum; partials[MaxReductionGroups + Grid.IdxX] = present; }
    }

    /// <summary>Per group: Σ sᵣ·scale·sβ(p − t), the present count and Σ sᵣ over present targets into the weighted partials
    /// (element i in row i / columns; a row of weight 0 adds 0).</summary>
    internal static void WeightedSmoothL1PartialsKernel(Dense prediction, Dense target, Dense rowWeights, int columns, int n, float beta, float scale, Dense partials)
    {
        float sum = 0, present = 0, denominator = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            float t = target[i];
            if (XMath.IsNaN(t)) continue;
            float s = rowWeights[i / columns], a = XMath.Abs(prediction[i] - t);
            sum += s != 0 ? s * (scale * (a < beta ? a * a / (2 * beta) : a - 0.5f * beta)) : 0;
            present += 1;
            denominator += s;
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

    /// <summary>dp (+)= (scale·upstream·sᵣ/D)·s′β(p − t) where t is present, sᵣ ≠ 0 and D &gt; 0, (+)= 0 otherwise.</summary>
    internal static void WeightedSmoothL1BackwardKernel(Index1D i, Dense prediction, Dense target, Dense rowWeights, int columns, float beta, float scale,
        Dense weightSum, Dense upstream, Dense dPrediction, int accumulate)
    {
        float sum = weightSum[0], s = rowWeights[i / columns], t = target[i];
        float g = 0;
        if (!XMath.IsNaN(t) && sum > 0 && s != 0)
        {
            float c = scale * upstream[0] * s / sum, d = prediction[i] - t;
            g = XMath.Abs(d) < beta ? c * d / beta : d > 0 ? c : d < 0 ? -c : 0;
        }
        dPrediction[i] = accumulate != 0 ? dPrediction[i] + g : g;
    }

    /// <summary>dp (+)= (scale·upstream/max(n, 1))·s′β(p − t) where t is present, (+)= 0 where it is NaN.</summary>
    internal static void MaskedSmoothL1BackwardKernel(Index1D i, Dense prediction, Dense target, float beta, float scale, Dense count, Dense upstream, Dense dPrediction, int accumulate)
    {
        float n = count[0];
        float c = scale * upstream[0] / (n > 1 ? n : 1);
        float t = target[i];
        float g = 0;
        if (!XMath.IsNaN(t))
        {
            float d = prediction[i] - t;
            g = XMath.Abs(d) < beta ? c * d / beta : d > 0 ? c : d < 0 ? -c : 0;
        }
        dPrediction[i] = accumulate != 0 ? dPrediction[i] + g : g;
    }
}
