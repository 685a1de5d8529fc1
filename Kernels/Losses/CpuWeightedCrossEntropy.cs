using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Weighted, label-smoothed, masked softmax cross-entropy on the SIMD CPU path (maths: docs/maths.md §19.9; the row-by-row
/// reference is <see cref="WeightedCrossEntropyReference"/>). Per row, with TensorPrimitives: p ← z − m (kept for the
/// smoothing term Σ_k w_k(z_k − m), exact in T), then e^{p}, their sum S and p/S; the row's loss
/// sᵣ·[(1 − ε)·w_y·(log S − (z_y − m)) + (ε/K)·(W·log S − Σ_k w_k(z_k − m))] is added in double. n and D are a host pass
/// over the labels and weights (which are checked there anyway).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void WeightedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> classWeights,
        T smoothing, int batch, int classes, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum)
    {
        MaskedLossChecks.Weighted(this, logits, nameof(logits), labels, batch, classes, rowWeights, classWeights, smoothing, weightSum);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        KernelChecks.Scalar(this, count, nameof(count));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, classes);
        var (n, denominator) = LabelledWeight(y, rowWeights, classWeights);
        var job = new WeightedCrossEntropyJob
        {
            Logits = logits.Pointer(), Labels = labels.Pointer(), Probabilities = probabilities.Pointer(), Classes = classes,
            RowWeights = rowWeights.IsEmpty ? null : rowWeights.Pointer(), ClassWeights = classWeights.IsEmpty ? null : classWeights.Pointer(),
            Smoothing = ToDouble(smoothing), ClassWeightSum = ClassWeightSum(classWeights, classes),
        };
        double total = RunChunks(job, batch, costPerItem: 2 * classes);
        count.Span()[0] = FromDouble(n);
        weightSum.Span()[0] = FromDouble(denominator);
        loss.Span()[0] = FromDouble(denominator > 0 ? total / denominator : 0);
    }

    /// <inheritdoc/>
    public override unsafe void WeightedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> classWeights,
        T smoothing, int batch, int classes, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        MaskedLossChecks.Weighted(this, probabilities, nameof(probabilities), labels, batch, classes, rowWeights, classWeights, smoothing, weightSum);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, classes);
        // ∂L/∂z_rk = c·sᵣ·(Qᵣ·p_rk − (1 − ε)·w_y·1[k = y] − (ε/K)·w_k), c = upstream/D (0 when D = 0), Qᵣ = (1 − ε)·w_y + (ε/K)·W.
        double d0 = ToDouble(weightSum.Span()[0]);
        double c = d0 > 0 ? ToDouble(upstream.Span()[0]) / d0 : 0;
        double eps = ToDouble(smoothing), spread = eps / classes, w = ClassWeightSum(classWeights, classes);
        var rw = rowWeights.IsEmpty ? default : (ReadOnlySpan<T>)rowWeights.Span();
        var cw = classWeights.IsEmpty ? default : (ReadOnlySpan<T>)classWeights.Span();
        T* p = probabilities.Pointer(), d = dLogits.Pointer();
        for (int i = 0; i < batch; i++)
        {
            var pi = new ReadOnlySpan<T>(p + (long)i * classes, classes);
            var di = new Span<T>(d + (long)i * classes, classes);
            double s = rw.IsEmpty ? 1 : ToDouble(rw[i]);
            if (y[i] < 0 || c == 0 || s == 0)
            {
                if (!accumulate) di.Clear();
                continue;
            }
            double wy = cw.IsEmpty ? 1 : ToDouble(cw[y[i]]);
            T a = FromDouble(c * s * ((1 - eps) * wy + spread * w)), b = FromDouble(c * s * spread);
            if (accumulate) TensorPrimitives.FusedMultiplyAdd(pi, a, di, di); // d += a·p
            else TensorPrimitives.Multiply(pi, a, di);                        // d  = a·p
            if (eps != 0)
            {
                if (cw.IsEmpty) TensorPrimitives.Subtract(di, b, di);                  // d −= c·s·ε/K
                else TensorPrimitives.FusedMultiplyAdd(cw, -b, di, di);                // d −= c·s·(ε/K)·w
            }
            di[y[i]] -= FromDouble(c * s * (1 - eps) * wy);                         // d[y] −= c·s·(1 − ε)·w_y
        }
    }

    /// <summary>n = labelled rows and D = Σ over them of sᵣ·w_{yᵣ} (empty weights: 1).</summary>
    private static (int Count, double WeightSum) LabelledWeight(ReadOnlySpan<int> y, View<T> rowWeights, View<T> classWeights)
    {
        var rw = rowWeights.IsEmpty ? default : (ReadOnlySpan<T>)rowWeights.Span();
        var cw = classWeights.IsEmpty ? default : (ReadOnlySpan<T>)classWeights.Span();
        int n = 0;
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] < 0) continue;
            n++;
            sum += (rw.IsEmpty ? 1 : ToDouble(rw[i])) * (cw.IsEmpty ? 1 : ToDouble(cw[y[i]]));
        }
        return (n, sum);
    }

    /// <summary>W = Σ_k w_k (K without class weights), in double.</summary>
    private static double ClassWeightSum(View<T> classWeights, int classes)
    {
        if (classWeights.IsEmpty) return classes;
        double sum = 0;
        foreach (var w in classWeights.Span()) sum += ToDouble(w);
        return sum;
    }

    /// <summary>For rows [start, start + count): pᵣ = softmax(zᵣ) saved for every row; returns Σ over labelled rows of ℓᵣ.</summary>
    private unsafe struct WeightedCrossEntropyJob : IChunkJob
    {
        public T* Logits, Probabilities, RowWeights, ClassWeights;
        public int* Labels;
        public int Classes;
        public double Smoothing, ClassWeightSum;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            for (int i = start; i < start + count; i++)
            {
                var z = new ReadOnlySpan<T>(Logits + (long)i * Classes, Classes);
                var p = new Span<T>(Probabilities + (long)i * Classes, Classes);
                int y = Labels[i];
                T max = TensorPrimitives.Max(z);
                T labelShifted = y >= 0 ? z[y] - max : T.Zero;     // read before p (which may be z) is overwritten
                TensorPrimitives.Subtract(z, max, p);              // z − m ≤ 0
                double shiftedSum = y < 0 || Smoothing == 0 ? 0   // Σ_k w_k (z_k − m), exact in T
                    : ClassWeights is null ? ToDouble(TensorPrimitives.Sum<T>(p))
                    : ToDouble(TensorPrimitives.Dot(new ReadOnlySpan<T>(ClassWeights, Classes), p));
                TensorPrimitives.Exp(p, p);
                T sum = TensorPrimitives.Sum<T>(p);                // ≥ 1: the maximum contributes e⁰
                TensorPrimitives.Divide(p, sum, p);
                if (y < 0) continue;
                double s = RowWeights is null ? 1 : ToDouble(RowWeights[i]);
                if (s == 0) continue;                             // a zero-weight row adds nothing (even with an infinite logit)
                double logSum = Math.Log(ToDouble(sum)), wy = ClassWeights is null ? 1 : ToDouble(ClassWeights[y]);
                double row = (1 - Smoothing) * wy * (logSum - ToDouble(labelShifted));
                if (Smoothing != 0) row += Smoothing / Classes * (ClassWeightSum * logSum - shiftedSum);
                total += s * row;
            }
            return total;
        }
    }
}
