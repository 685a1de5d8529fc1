using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Positive-weighted binary cross-entropy with logits on ILGPU (maths: docs/maths.md §19.10; the element-by-element
/// reference is <see cref="PositiveWeightedBceReference"/>). The forward is the weighted cross-entropy's two-pass reduction
/// of (Σ sᵣℓᵢ, n, D) with σ(z) written on the way, finished by <c>WeightedFinishKernel</c>; the backward is one thread per
/// element reading D and the upstream scalar on the device. log1p(e) = log(u)·e/(u − 1) with u = 1 + e, as in §19.3. Label
/// smoothing ε (§19.13) enters as a kernel argument: the target t = y(1 − ε) + ε/2 replaces y.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, Dense, int, Dense, float, int, Dense, Dense>? _positiveBcePartials;
    private Action<AcceleratorStream, Index1D, Dense, Labels, Dense, int, Dense, float, int, Dense, Dense, Dense, int>? _positiveBceBackward;

    /// <inheritdoc/>
    public override void PositiveWeightedBinaryCrossEntropyForward(View<float> logits, View<int> labels, View<float> rowWeights, View<float> positiveWeights,
        float smoothing, int columns, View<float> probabilities, View<float> loss, View<float> count, View<float> weightSum)
    {
        MaskedLossChecks.PositiveWeighted(this, logits, nameof(logits), labels, rowWeights, positiveWeights, columns, weightSum);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        KernelChecks.Scalar(this, count, nameof(count));
        int groups = ReductionGroups(logits.Length);
        var partials = WeightedPartials;
        _positiveBcePartials ??= Accelerator.LoadKernel<Dense, Labels, Dense, int, Dense, float, int, Dense, Dense>(PositiveWeightedBcePartialsKernel);
        _positiveBcePartials(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), WeightsOrDummy(rowWeights), rowWeights.IsEmpty ? 0 : 1,
            positiveWeights.Ilgpu(), smoothing, columns, probabilities.Ilgpu(), partials);
        FinishWeighted(groups, loss, count, weightSum);
    }

    /// <inheritdoc/>
    public override void PositiveWeightedBinaryCrossEntropyBackward(View<float> probabilities, View<int> labels, View<float> rowWeights, View<float> positiveWeights,
        float smoothing, int columns, View<float> weightSum, View<float> upstream, View<float> dLogits, bool accumulate)
    {
        MaskedLossChecks.PositiveWeighted(this, probabilities, nameof(probabilities), labels, rowWeights, positiveWeights, columns, weightSum);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        _positiveBceBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Labels, Dense, int, Dense, float, int, Dense, Dense, Dense, int>(PositiveWeightedBceBackwardKernel);
        _positiveBceBackward(Launched(), probabilities.Length, probabilities.Ilgpu(), labels.Ilgpu(), WeightsOrDummy(rowWeights), rowWeights.IsEmpty ? 0 : 1,
            positiveWeights.Ilgpu(), smoothing, columns, weightSum.Ilgpu(), upstream.Ilgpu(), dLogits.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>Per element: σ(zᵢ) written; per group Σ sᵣℓᵢ, the labelled count and Σ sᵣ into the three partial blocks.
    /// A label above 1 makes the sum NaN.</summary>
    internal static void PositiveWeightedBcePartialsKernel(Dense logits, Labels labels, Dense rowWeights, int hasRowWeights, Dense positiveWeights,
        float smoothing, int columns, Dense probabilities, Dense partials)
    {
        float total = 0, labelled = 0, denominator = 0;
        for (int i = Grid.GlobalIndex.X; i < logits.IntLength; i += Grid.DimX * Group.DimX)
        {
            float z = logits[i];
            float e = XMath.Exp(-XMath.Abs(z));
            float u = 1 + e;
            probabilities[i] = (z >= 0 ? 1 : e) / u;
            int y = labels[i];
            if (y < 0) continue;
            labelled += 1;
            float s = hasRowWeights != 0 ? rowWeights[i / columns] : 1;
            denominator += s;
            if (y > 1) { total = float.NaN; continue; }
            if (s == 0) continue;
            float log1p = u == 1 ? e : XMath.Log(u) * (e / (u - 1));
            float t = y == 1 ? 1 - smoothing / 2 : smoothing / 2;   // y(1 − ε) + ε/2
            total += s * (positiveWeights[i % columns] * t * (XMath.Max(-z, 0) + log1p) + (1 - t) * (XMath.Max(z, 0) + log1p));
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

    /// <summary>dzᵢ (+)= (upstream/D)·sᵣ·(p_c·tᵢ·(σ(zᵢ) − 1) + (1 − tᵢ)·σ(zᵢ)), tᵢ = yᵢ(1 − ε) + ε/2, for labelled elements,
    /// (+)= 0 otherwise and when D = 0.</summary>
    internal static void PositiveWeightedBceBackwardKernel(Index1D i, Dense probabilities, Labels labels, Dense rowWeights, int hasRowWeights,
        Dense positiveWeights, float smoothing, int columns, Dense weightSum, Dense upstream, Dense dLogits, int accumulate)
    {
        int y = labels[i];
        float d0 = weightSum[0];
        float g = 0;
        if (y > 1) g = float.NaN;
        else if (y >= 0 && d0 > 0)
        {
            float s = hasRowWeights != 0 ? rowWeights[i / columns] : 1;
            float p = probabilities[i];
            float t = y == 1 ? 1 - smoothing / 2 : smoothing / 2;
            g = upstream[0] / d0 * s * (positiveWeights[i % columns] * t * (p - 1) + (1 - t) * p);
        }
        dLogits[i] = accumulate != 0 ? dLogits[i] + g : g;
    }
}
