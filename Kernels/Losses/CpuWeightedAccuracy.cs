namespace Engine.Kernels.Cpu;

/// <summary>
/// The sample-weighted accuracy sums (maths §19.11) on the CPU: Σ sᵣ·1[correct] and Σ sᵣ over the labelled rows or
/// elements, added in double. The softmax rows' argmax runs in parallel chunks, as <see cref="CountCorrect"/>; the labelled
/// weight mass and the binary decisions are one pass over the labels.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void WeightedCountCorrect(View<T> logits, View<int> labels, View<T> rowWeights, int batch, int classes, View<T> sums)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, batch, classes);
        MaskedLossChecks.LabelsInRange(labels.Span(), classes);
        Check.Owned(this, rowWeights, nameof(rowWeights));
        Check.Length(rowWeights, batch, nameof(rowWeights));
        Check.Owned(this, sums, nameof(sums));
        Check.Length(sums, 2, nameof(sums));
        var job = new WeightedCountCorrectJob { Logits = logits.Pointer(), Labels = labels.Pointer(), Weights = rowWeights.Pointer(), Classes = classes };
        double correct = RunChunks(job, batch, costPerItem: classes), mass = 0;
        var y = labels.Span();
        var s = rowWeights.Span();
        for (int i = 0; i < batch; i++) if (y[i] >= 0) mass += ToDouble(s[i]);
        sums.Span()[0] = FromDouble(correct);
        sums.Span()[1] = FromDouble(mass);
    }

    /// <inheritdoc/>
    public override void WeightedCountCorrectBinary(View<T> logits, View<int> labels, View<T> rowWeights, View<T> sums)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1);
        MaskedLossChecks.RowWeights(this, logits, rowWeights);
        Check.Owned(this, sums, nameof(sums));
        Check.Length(sums, 2, nameof(sums));
        var z = logits.Span();
        var y = labels.Span();
        var s = rowWeights.Span();
        int columns = z.Length / s.Length;
        double correct = 0, mass = 0;
        for (int i = 0; i < z.Length; i++)
        {
            if (y[i] < 0) continue;
            double w = ToDouble(s[i / columns]);
            mass += w;
            if ((z[i] > T.Zero ? 1 : 0) == y[i]) correct += w;
        }
        sums.Span()[0] = FromDouble(correct);
        sums.Span()[1] = FromDouble(mass);
    }

    /// <summary>Σ sᵣ over the rows of [start, start + count) whose first largest logit is at the label.</summary>
    private unsafe struct WeightedCountCorrectJob : IChunkJob
    {
        public T* Logits, Weights;
        public int* Labels;
        public int Classes;

        public readonly double Run(int start, int count)
        {
            double correct = 0;
            for (int i = start; i < start + count; i++)
            {
                T* z = Logits + (long)i * Classes;
                int best = 0;
                for (int j = 1; j < Classes; j++)
                    if (z[j] > z[best]) best = j; // strict: ties keep the lowest index
                if (best == Labels[i]) correct += double.CreateTruncating(Weights[i]);
            }
            return correct;
        }
    }
}
