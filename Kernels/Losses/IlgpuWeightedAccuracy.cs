using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using Labels = ILGPU.Runtime.ArrayView1D<int, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The sample-weighted accuracy sums (maths §19.11) on ILGPU: a two-pass reduction, per group Σ sᵣ·1[correct] and Σ sᵣ
/// over the labelled rows (softmax argmax) or elements (binary decisions [z &gt; 0]) into the masked partials' two blocks,
/// then one group adds them into sums[0], sums[1]. Nothing is read back to the host.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, Dense, int, int, Dense>? _weightedCountCorrect;
    private Action<AcceleratorStream, KernelConfig, Dense, Labels, Dense, int, int, Dense>? _weightedCountCorrectBinary;
    private Action<AcceleratorStream, KernelConfig, Dense, int, Dense>? _pairFinish;

    /// <inheritdoc/>
    public override void WeightedCountCorrect(View<float> logits, View<int> labels, View<float> rowWeights, int batch, int classes, View<float> sums)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, batch, classes);
        Check.Owned(this, rowWeights, nameof(rowWeights));
        Check.Length(rowWeights, batch, nameof(rowWeights));
        Check.Owned(this, sums, nameof(sums));
        Check.Length(sums, 2, nameof(sums));
        int groups = ReductionGroups(batch, classes);
        _weightedCountCorrect ??= Accelerator.LoadKernel<Dense, Labels, Dense, int, int, Dense>(WeightedCountCorrectKernel);
        _weightedCountCorrect(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), rowWeights.Ilgpu(), batch, classes, MaskedPartials);
        FinishPair(groups, sums);
    }

    /// <inheritdoc/>
    public override void WeightedCountCorrectBinary(View<float> logits, View<int> labels, View<float> rowWeights, View<float> sums)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1);
        MaskedLossChecks.RowWeights(this, logits, rowWeights);
        Check.Owned(this, sums, nameof(sums));
        Check.Length(sums, 2, nameof(sums));
        int groups = ReductionGroups(logits.Length);
        _weightedCountCorrectBinary ??= Accelerator.LoadKernel<Dense, Labels, Dense, int, int, Dense>(WeightedCountCorrectBinaryKernel);
        _weightedCountCorrectBinary(Launched(), new KernelConfig(groups, GroupSize), logits.Ilgpu(), labels.Ilgpu(), rowWeights.Ilgpu(),
            logits.Length, logits.Length / rowWeights.Length, MaskedPartials);
        FinishPair(groups, sums);
    }

    /// <summary>Pass 2: sums[0] = Σ of the first partial block, sums[1] = Σ of the second.</summary>
    private void FinishPair(int groups, View<float> sums)
    {
        _pairFinish ??= Accelerator.LoadKernel<Dense, int, Dense>(PairFinishKernel);
        _pairFinish(Launched(), new KernelConfig(1, GroupSize), MaskedPartials, groups, sums.Ilgpu());
    }

    /// <summary>Per group: Σ sᵣ over the labelled rows whose first largest logit is at the label, and Σ sᵣ over the labelled rows.</summary>
    internal static void WeightedCountCorrectKernel(Dense logits, Labels labels, Dense rowWeights, int batch, int classes, Dense partials)
    {
        float correct = 0, mass = 0;
        for (int i = Grid.GlobalIndex.X; i < batch; i += Grid.DimX * Group.DimX)
        {
            int label = labels[i];
            if (label < 0) continue;
            int row = i * classes, best = 0;
            float bestValue = logits[row];
            for (int j = 1; j < classes; j++)
            {
                float v = logits[row + j];
                if (v > bestValue) { bestValue = v; best = j; } // strict: ties keep the lowest index
            }
            float s = rowWeights[i];
            mass += s;
            if (best == label) correct += s;
        }
        correct = GroupSumToFirst(correct);
        mass = GroupSumToFirst(mass);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = correct; partials[MaxReductionGroups + Grid.IdxX] = mass; }
    }

    /// <summary>Per group: Σ sᵣ over the labelled elements whose decision [z &gt; 0] is the label, and Σ sᵣ over the labelled
    /// elements (element i in row i / columns).</summary>
    internal static void WeightedCountCorrectBinaryKernel(Dense logits, Labels labels, Dense rowWeights, int n, int columns, Dense partials)
    {
        float correct = 0, mass = 0;
        for (int i = Grid.GlobalIndex.X; i < n; i += Grid.DimX * Group.DimX)
        {
            int y = labels[i];
            if (y < 0) continue;
            float s = rowWeights[i / columns];
            mass += s;
            if ((logits[i] > 0 ? 1 : 0) == y) correct += s;
        }
        correct = GroupSumToFirst(correct);
        mass = GroupSumToFirst(mass);
        if (Group.IsFirstThread) { partials[Grid.IdxX] = correct; partials[MaxReductionGroups + Grid.IdxX] = mass; }
    }

    internal static void PairFinishKernel(Dense partials, int groups, Dense sums)
    {
        float first = 0, second = 0;
        for (int i = Group.IdxX; i < groups; i += Group.DimX) { first += partials[i]; second += partials[MaxReductionGroups + i]; }
        first = GroupSumToFirst(first);
        second = GroupSumToFirst(second);
        if (Group.IsFirstThread) { sums[0] = first; sums[1] = second; }
    }
}
