using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Positive-weighted binary cross-entropy with logits on the CPU path (maths: docs/maths.md §19.10; the element-by-element
/// reference is <see cref="PositiveWeightedBceReference"/>). As the plain BCE (§19.3): blocks of <see cref="BceBlock"/>
/// elements, e = e^{−|z|} and log(1 + e) with TensorPrimitives (SIMD), log1p(e) = log(u)·e/(u − 1) with u = 1 + e; then per
/// element σ(z) written and p_c·t·softplus(−z) + (1 − t)·softplus(z) added (p_c the weight of the element's column, t the
/// label smoothed by ε: y(1 − ε) + ε/2, §19.13), block sums in double. n and D are a host pass over the labels and row weights (which are checked there anyway).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void PositiveWeightedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum)
    {
        MaskedLossChecks.PositiveWeighted(this, logits, nameof(logits), labels, rowWeights, positiveWeights, columns, weightSum);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        KernelChecks.Scalar(this, count, nameof(count));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, 2);
        var rw = rowWeights.IsEmpty ? default : (ReadOnlySpan<T>)rowWeights.Span();
        int n = 0;
        double denominator = 0;
        for (int i = 0; i < y.Length; i++)
            if (y[i] >= 0) { n++; denominator += rw.IsEmpty ? 1 : ToDouble(rw[i / columns]); }
        var job = new PositiveWeightedBceJob
        {
            Z = logits.Pointer(), Labels = labels.Pointer(), P = probabilities.Pointer(), PositiveWeights = positiveWeights.Pointer(),
            RowWeights = rowWeights.IsEmpty ? null : rowWeights.Pointer(), Columns = columns, Smoothing = smoothing,
        };
        double total = RunChunks(job, logits.Length, costPerItem: 8);
        count.Span()[0] = FromDouble(n);
        weightSum.Span()[0] = FromDouble(denominator);
        loss.Span()[0] = FromDouble(denominator > 0 ? total / denominator : 0);
    }

    /// <inheritdoc/>
    public override unsafe void PositiveWeightedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        MaskedLossChecks.PositiveWeighted(this, probabilities, nameof(probabilities), labels, rowWeights, positiveWeights, columns, weightSum);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, 2);
        // ∂L/∂zᵢ = c·sᵣ·(p_c·tᵢ·(σ(zᵢ) − 1) + (1 − tᵢ)·σ(zᵢ)), tᵢ = yᵢ(1 − ε) + ε/2, c = upstream/D (0 when D = 0).
        double d0 = ToDouble(weightSum.Span()[0]);
        T c = FromDouble(d0 > 0 ? ToDouble(upstream.Span()[0]) / d0 : 0);
        var p = probabilities.Span();
        var d = dLogits.Span();
        var pw = positiveWeights.Span();
        var rw = rowWeights.IsEmpty ? default : (ReadOnlySpan<T>)rowWeights.Span();
        for (int i = 0; i < p.Length; i++)
        {
            T g = T.Zero;
            if (y[i] >= 0 && c != T.Zero)
            {
                T s = rw.IsEmpty ? T.One : rw[i / columns], t = SmoothedTarget(y[i], smoothing);
                g = c * s * (pw[i % columns] * t * (p[i] - T.One) + (T.One - t) * p[i]);
            }
            d[i] = accumulate ? d[i] + g : g;
        }
    }

    /// <summary>The smoothed target t = y(1 − ε) + ε/2 of a label y ∈ {0, 1}: 1 − ε/2 or ε/2 (exactly y when ε = 0).</summary>
    private static T SmoothedTarget(int label, T smoothing) => label == 1 ? T.One - smoothing / (T.One + T.One) : smoothing / (T.One + T.One);

    /// <summary>For elements [start, start + count): pᵢ = σ(zᵢ) written; returns Σ over labelled i of sᵣ·ℓᵢ.</summary>
    private unsafe struct PositiveWeightedBceJob : IChunkJob
    {
        public T* Z, P, PositiveWeights, RowWeights;
        public int* Labels;
        public int Columns;
        public T Smoothing;

        public readonly double Run(int start, int count)
        {
            Span<T> e = stackalloc T[BceBlock], u = stackalloc T[BceBlock], logU = stackalloc T[BceBlock];
            double total = 0;
            for (int i = start; i < start + count; i += BceBlock)
            {
                int b = Math.Min(BceBlock, start + count - i);
                T* z = Z + i, p = P + i;
                TensorPrimitives.Abs(new ReadOnlySpan<T>(z, b), e[..b]);
                TensorPrimitives.Negate<T>(e[..b], e[..b]);
                TensorPrimitives.Exp<T>(e[..b], e[..b]);                // e = e^{−|z|} ∈ (0, 1]
                TensorPrimitives.Add(e[..b], T.One, u[..b]);            // u = 1 + e, rounded
                TensorPrimitives.Log<T>(u[..b], logU[..b]);
                double block = 0;
                for (int j = 0; j < b; j++)
                {
                    T zj = z[j], ej = e[j], uj = u[j];
                    p[j] = (zj >= T.Zero ? T.One : ej) / uj;            // σ(z)
                    int label = Labels[i + j];
                    if (label < 0) continue;
                    long element = (long)i + j;
                    T s = RowWeights is null ? T.One : RowWeights[element / Columns];
                    if (s == T.Zero) continue;                         // a zero-weight row adds nothing
                    T log1p = uj == T.One ? ej : logU[j] * (ej / (uj - T.One));
                    T t = SmoothedTarget(label, Smoothing);
                    T term = PositiveWeights[element % Columns] * t * (T.Max(-zj, T.Zero) + log1p)  // p_c·t·softplus(−z)
                        + (T.One - t) * (T.Max(zj, T.Zero) + log1p);                                 // (1 − t)·softplus(z)
                    block += ToDouble(s * term);
                }
                total += block;
            }
            return total;
        }
    }
}
