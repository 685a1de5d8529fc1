using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Masked MSE (NaN target = no label) and masked softmax cross-entropy (negative label = no label) on the SIMD CPU
/// path, and the masked difference the regression metrics use (maths: docs/maths.md §19.1).
/// The squared errors are masked with a Vector256 compare (t = t is false only for NaN) and summed per block in T, the
/// block sums in double; the count is a second pass. Cross-entropy rows reuse the unmasked row kernel's arithmetic.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void MaskedMseForward(View<T> prediction, View<T> target, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        if (!rowWeights.IsEmpty) { WeightedMseForward(prediction, target, loss, count, rowWeights, weightSum); return; }
        var job = new MaskedSquaredErrorJob { P = prediction.Pointer(), Target = target.Pointer() };
        double sum = RunChunks(job, prediction.Length);
        double n = RunChunks(new PresentCountJob { Target = target.Pointer() }, prediction.Length);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(sum / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedMseBackward(View<T> prediction, View<T> target, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        if (!rowWeights.IsEmpty)
        {
            // ∂L/∂pᵢ = 2sᵣ(pᵢ − tᵢ)/D where tᵢ is present (0 when D = 0); count holds D here.
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            double weightSum = ToDouble(count.Span()[0]);
            T cw = FromDouble(weightSum > 0 ? 2.0 * ToDouble(upstream.Span()[0]) / weightSum : 0);
            RunChunks(new WeightedMseGradientJob { P = prediction.Pointer(), Target = target.Pointer(), S = rowWeights.Pointer(), D = dPrediction.Pointer(),
                C = cw, Columns = prediction.Length / rowWeights.Length, Accumulate = accumulate }, rowWeights.Length, costPerItem: prediction.Length / rowWeights.Length);
            return;
        }
        // ∂L/∂pᵢ = 2(pᵢ − tᵢ)/max(n, 1) where tᵢ is present, 0 where it is NaN; times the upstream gradient.
        T c = FromDouble(2.0 * ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        var job = new MaskedMseGradientJob { P = prediction.Pointer(), Target = target.Pointer(), D = dPrediction.Pointer(), C = c, Accumulate = accumulate };
        RunChunks(job, prediction.Length);
    }

    /// <inheritdoc/>
    public override unsafe void MaskedDifference(View<T> prediction, View<T> target, View<T> difference, View<T> mask)
    {
        MaskedLossChecks.Difference(this, prediction, target, difference, mask);
        var job = new MaskedDifferenceJob { P = prediction.Pointer(), Target = target.Pointer(), D = difference.Pointer(), M = mask.Pointer() };
        RunChunks(job, prediction.Length);
    }

    /// <inheritdoc/>
    public override unsafe void MaskedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes,
        View<T> probabilities, View<T> loss, View<T> count)
    {
        MaskedLossChecks.Classification(this, logits, nameof(logits), labels, batch, classes, count);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, classes);
        int n = 0;
        for (int i = 0; i < y.Length; i++) if (y[i] >= 0) n++;
        var job = new MaskedCrossEntropyJob { Logits = logits.Pointer(), Labels = labels.Pointer(), Probabilities = probabilities.Pointer(), Classes = classes };
        double total = RunChunks(job, batch, costPerItem: classes);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(total / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes,
        View<T> count, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, batch, classes, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, classes);
        // ∂L/∂z_ij = (p_ij − 1[j = yᵢ])/max(n, 1) for labelled rows, 0 for the others; times the upstream gradient.
        T c = FromDouble(ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        T* p = probabilities.Pointer(), d = dLogits.Pointer();
        for (int i = 0; i < batch; i++)
        {
            var pi = new ReadOnlySpan<T>(p + (long)i * classes, classes);
            var di = new Span<T>(d + (long)i * classes, classes);
            if (y[i] < 0)
            {
                if (!accumulate) di.Clear();
                continue;
            }
            if (accumulate) TensorPrimitives.FusedMultiplyAdd(pi, c, di, di); // d += c·p
            else TensorPrimitives.Multiply(pi, c, di);                        // d  = c·p
            di[y[i]] -= c;                                                     // d[i, yᵢ] −= c
        }
    }

    /// <summary>§19.11: L = Σ sᵣmᵢ(pᵢ − tᵢ)² / D, D = Σ sᵣmᵢ (0 when D = 0), n = Σ mᵢ; sums per row in T, rows added in double.</summary>
    private unsafe void WeightedMseForward(View<T> prediction, View<T> target, View<T> loss, View<T> count, View<T> rowWeights, View<T> weightSum)
    {
        MaskedLossChecks.RowWeights(this, prediction, rowWeights);
        KernelChecks.Scalar(this, weightSum, nameof(weightSum));
        int columns = prediction.Length / rowWeights.Length;
        var job = new WeightedSquaredErrorJob { P = prediction.Pointer(), Target = target.Pointer(), S = rowWeights.Pointer(), Columns = columns };
        double sum = RunChunks(job, rowWeights.Length, costPerItem: columns);
        var weightsOnly = job;
        weightsOnly.WeightsOnly = true;
        double d = RunChunks(weightsOnly, rowWeights.Length, costPerItem: columns);
        double n = RunChunks(new PresentCountJob { Target = target.Pointer() }, prediction.Length);
        count.Span()[0] = FromDouble(n);
        weightSum.Span()[0] = FromDouble(d);
        loss.Span()[0] = FromDouble(d > 0 ? sum / d : 0);
    }

    /// <summary>Per row r: sᵣ·Σ_{present} (p − t)² (or sᵣ·#present when <see cref="WeightsOnly"/>); a one-column task
    /// (rows = elements) runs Vector256 lanes over the rows, wider rows a scalar loop over their columns.</summary>
    private unsafe struct WeightedSquaredErrorJob : IChunkJob
    {
        public T* P, Target, S;
        public int Columns;
        public bool WeightsOnly;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            int r = start, end = start + count;
            if (Columns == 1)
            {
                int width = Vector256<T>.Count;
                var one = Vector256.Create(T.One);
                for (; r + width <= end; r += width)
                {
                    var tv = Vector256.Load(Target + r);
                    var d = Vector256.Load(P + r) - tv;
                    var term = WeightsOnly ? one : d * d;
                    var sv = Vector256.Load(S + r);                                  // a row of weight 0 adds 0, even if p is not finite
                    var keep = Vector256.Equals(tv, tv) & ~Vector256.Equals(sv, Vector256<T>.Zero);
                    term = Vector256.ConditionalSelect(keep, sv * term, Vector256<T>.Zero);
                    total += ToDouble(Vector256.Sum(term));
                }
            }
            for (; r < end; r++)
            {
                T row = T.Zero;
                for (int j = 0; j < Columns; j++)
                {
                    long i = (long)r * Columns + j;
                    if (T.IsNaN(Target[i])) continue;
                    T d = P[i] - Target[i];
                    row += WeightsOnly ? T.One : d * d;
                }
                if (S[r] != T.Zero) total += ToDouble(S[r] * row);
            }
            return total;
        }
    }

    /// <summary>dp (+)= c·sᵣ·(p − t) where t is present, (+)= 0 where it is NaN; over rows r.</summary>
    private unsafe struct WeightedMseGradientJob : IChunkJob
    {
        public T* P, Target, S, D;
        public T C;
        public int Columns;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
            {
                T c = C * S[r];
                for (int j = 0; j < Columns; j++)
                {
                    long i = (long)r * Columns + j;
                    T g = T.IsNaN(Target[i]) || c == T.Zero ? T.Zero : c * (P[i] - Target[i]);
                    D[i] = Accumulate ? D[i] + g : g;
                }
            }
            return 0;
        }
    }

    /// <summary>Σ over present targets of (p − t)², per block in T (NaN lanes selected to 0), block sums in double.</summary>
    private unsafe struct MaskedSquaredErrorJob : IChunkJob
    {
        public T* P, Target;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            int width = Vector256<T>.Count;
            for (int i = 0; i < count; i += SumBlock)
            {
                int n = Math.Min(SumBlock, count - i), j = 0;
                T* p = P + start + i, t = Target + start + i;
                var acc = Vector256<T>.Zero;
                for (; j + width <= n; j += width)
                {
                    var tv = Vector256.Load(t + j);
                    var d = Vector256.Load(p + j) - tv;
                    var present = Vector256.Equals(tv, tv);                       // false only where t is NaN
                    d = Vector256.ConditionalSelect(present, d, Vector256<T>.Zero);
                    acc += d * d;
                }
                T block = Vector256.Sum(acc);
                for (; j < n; j++)
                    if (!T.IsNaN(t[j])) { T d = p[j] - t[j]; block += d * d; }
                total += ToDouble(block);
            }
            return total;
        }
    }

    /// <summary>The number of targets that are not NaN.</summary>
    private unsafe struct PresentCountJob : IChunkJob
    {
        public T* Target;

        public readonly double Run(int start, int count)
        {
            int n = 0;
            for (int i = start; i < start + count; i++) if (!T.IsNaN(Target[i])) n++;
            return n;
        }
    }

    /// <summary>dp (+)= c·(p − t) where t is present, (+)= 0 where it is NaN.</summary>
    private unsafe struct MaskedMseGradientJob : IChunkJob
    {
        public T* P, Target, D;
        public T C;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            int width = Vector256<T>.Count, i = start, end = start + count;
            var c = Vector256.Create(C);
            for (; i + width <= end; i += width)
            {
                var tv = Vector256.Load(Target + i);
                var g = Vector256.ConditionalSelect(Vector256.Equals(tv, tv), c * (Vector256.Load(P + i) - tv), Vector256<T>.Zero);
                if (Accumulate) g += Vector256.Load(D + i);
                g.Store(D + i);
            }
            for (; i < end; i++)
            {
                T g = T.IsNaN(Target[i]) ? T.Zero : C * (P[i] - Target[i]);
                D[i] = Accumulate ? D[i] + g : g;
            }
            return 0;
        }
    }

    /// <summary>d = p − t, m = 1 where t is present; d = 0, m = 0 where it is NaN.</summary>
    private unsafe struct MaskedDifferenceJob : IChunkJob
    {
        public T* P, Target, D, M;

        public readonly double Run(int start, int count)
        {
            int width = Vector256<T>.Count, i = start, end = start + count;
            var one = Vector256.Create(T.One);
            for (; i + width <= end; i += width)
            {
                var tv = Vector256.Load(Target + i);
                var present = Vector256.Equals(tv, tv);
                Vector256.ConditionalSelect(present, Vector256.Load(P + i) - tv, Vector256<T>.Zero).Store(D + i);
                Vector256.ConditionalSelect(present, one, Vector256<T>.Zero).Store(M + i);
            }
            for (; i < end; i++)
            {
                bool present = !T.IsNaN(Target[i]);
                T d = present ? P[i] - Target[i] : T.Zero;
                M[i] = present ? T.One : T.Zero;
                D[i] = d;
            }
            return 0;
        }
    }

    /// <summary>For rows [start, start + count): pᵢ = softmax(zᵢ − mᵢ) saved for every row; returns the sum of the
    /// labelled rows' log Σⱼ e^{z_ij − mᵢ} − (z_{i,yᵢ} − mᵢ).</summary>
    private unsafe struct MaskedCrossEntropyJob : IChunkJob
    {
        public T* Logits, Probabilities;
        public int* Labels;
        public int Classes;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            for (int i = start; i < start + count; i++)
            {
                var z = new ReadOnlySpan<T>(Logits + (long)i * Classes, Classes);
                var p = new Span<T>(Probabilities + (long)i * Classes, Classes);
                total += SoftmaxRow(z, p, Labels[i]);          // the unmasked kernel's row; 0 for an unlabelled row
            }
            return total;
        }
    }
}
