using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Masked smooth-L1 (L1 and Huber) on the SIMD CPU path (maths: docs/maths.md §19.5): one Vector256 pass, NaN targets
/// masked with t = t, the quadratic and linear branches selected per lane; block sums in T, added in double.
/// Readable form of one element: <c>a = |p − t|; a &lt; β ? a²/(2β) : a − β/2</c>, gradient <c>a &lt; β ? d/β : sign(d)</c>.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void MaskedSmoothL1Forward(View<T> prediction, View<T> target, T beta, T scale, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        MaskedLossChecks.Beta(beta);
        if (!rowWeights.IsEmpty) { WeightedSmoothL1Forward(prediction, target, beta, scale, loss, count, rowWeights, weightSum); return; }
        var job = new SmoothL1Job { P = prediction.Pointer(), Target = target.Pointer(), Beta = beta };
        double sum = RunChunks(job, prediction.Length);
        double n = RunChunks(new PresentCountJob { Target = target.Pointer() }, prediction.Length);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(ToDouble(scale) * sum / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedSmoothL1Backward(View<T> prediction, View<T> target, T beta, T scale, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        MaskedLossChecks.Beta(beta);
        if (!rowWeights.IsEmpty)
        {
            // §19.11: ∂L/∂pᵢ = scale·sᵣ·s′β(dᵢ)/D where tᵢ is present (0 when D = 0); count holds D here.
            MaskedLossChecks.RowWeights(this, prediction, rowWeights);
            double d = ToDouble(count.Span()[0]);
            T cw = FromDouble(d > 0 ? ToDouble(scale) * ToDouble(upstream.Span()[0]) / d : 0);
            RunChunks(new WeightedSmoothL1GradientJob { P = prediction.Pointer(), Target = target.Pointer(), S = rowWeights.Pointer(), D = dPrediction.Pointer(),
                Beta = beta, C = cw, Columns = prediction.Length / rowWeights.Length, Accumulate = accumulate }, rowWeights.Length, costPerItem: prediction.Length / rowWeights.Length);
            return;
        }
        T c = FromDouble(ToDouble(scale) * ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        var job = new SmoothL1GradientJob { P = prediction.Pointer(), Target = target.Pointer(), D = dPrediction.Pointer(), Beta = beta, C = c, Accumulate = accumulate };
        RunChunks(job, prediction.Length);
    }

    /// <summary>§19.11: L = scale·Σ sᵣmᵢ sβ(dᵢ) / D, D = Σ sᵣmᵢ (0 when D = 0), n = Σ mᵢ; per row in T (a scalar loop over the
    /// row's columns), rows added in double.</summary>
    private unsafe void WeightedSmoothL1Forward(View<T> prediction, View<T> target, T beta, T scale, View<T> loss, View<T> count, View<T> rowWeights, View<T> weightSum)
    {
        MaskedLossChecks.RowWeights(this, prediction, rowWeights);
        KernelChecks.Scalar(this, weightSum, nameof(weightSum));
        int columns = prediction.Length / rowWeights.Length;
        var job = new WeightedSmoothL1Job { P = prediction.Pointer(), Target = target.Pointer(), S = rowWeights.Pointer(), Beta = beta, Columns = columns };
        double sum = RunChunks(job, rowWeights.Length, costPerItem: columns);
        var weightsOnly = job;
        weightsOnly.WeightsOnly = true;
        double d = RunChunks(weightsOnly, rowWeights.Length, costPerItem: columns);
        double n = RunChunks(new PresentCountJob { Target = target.Pointer() }, prediction.Length);
        count.Span()[0] = FromDouble(n);
        weightSum.Span()[0] = FromDouble(d);
        loss.Span()[0] = FromDouble(d > 0 ? ToDouble(scale) * sum / d : 0);
    }

    /// <summary>Per row r: sᵣ·Σ_{present} sβ(p − t) (or sᵣ·#present when <see cref="WeightsOnly"/>); a row of weight 0 adds 0.</summary>
    private unsafe struct WeightedSmoothL1Job : IChunkJob
    {
        public T* P, Target, S;
        public T Beta;
        public int Columns;
        public bool WeightsOnly;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            T half = T.One / (T.One + T.One);
            T inverse = Beta > T.Zero ? half / Beta : T.Zero;
            for (int r = start; r < start + count; r++)
            {
                if (S[r] == T.Zero) continue;
                T row = T.Zero;
                for (int j = 0; j < Columns; j++)
                {
                    long i = (long)r * Columns + j;
                    if (T.IsNaN(Target[i])) continue;
                    T a = T.Abs(P[i] - Target[i]);
                    row += WeightsOnly ? T.One : a < Beta ? a * a * inverse : a - half * Beta;
                }
                total += ToDouble(S[r] * row);
            }
            return total;
        }
    }

    /// <summary>dp (+)= C·sᵣ·s′β(p − t) where t is present, (+)= 0 where it is NaN or sᵣ = 0; over rows r.</summary>
    private unsafe struct WeightedSmoothL1GradientJob : IChunkJob
    {
        public T* P, Target, S, D;
        public T Beta, C;
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
                    T g = T.Zero;
                    if (!T.IsNaN(Target[i]) && c != T.Zero)
                    {
                        T d = P[i] - Target[i];
                        g = T.Abs(d) < Beta ? c * d / Beta : d > T.Zero ? c : d < T.Zero ? -c : T.Zero;
                    }
                    D[i] = Accumulate ? D[i] + g : g;
                }
            }
            return 0;
        }
    }

    /// <summary>Σ over present targets of sβ(p − t), per block in T, block sums in double.</summary>
    private unsafe struct SmoothL1Job : IChunkJob
    {
        public T* P, Target;
        public T Beta;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            int width = Vector256<T>.Count;
            T half = T.One / (T.One + T.One);
            T inverse = Beta > T.Zero ? half / Beta : T.Zero;      // 1/(2β); unused when β = 0 (no lane is quadratic)
            var b = Vector256.Create(Beta);
            var inv = Vector256.Create(inverse);
            var halfBeta = Vector256.Create(half * Beta);
            for (int i = 0; i < count; i += SumBlock)
            {
                int n = Math.Min(SumBlock, count - i), j = 0;
                T* p = P + start + i, t = Target + start + i;
                var acc = Vector256<T>.Zero;
                for (; j + width <= n; j += width)
                {
                    var tv = Vector256.Load(t + j);
                    var a = Vector256.Abs(Vector256.Load(p + j) - tv);
                    var term = Vector256.ConditionalSelect(Vector256.LessThan(a, b), a * a * inv, a - halfBeta);
                    acc += Vector256.ConditionalSelect(Vector256.Equals(tv, tv), term, Vector256<T>.Zero); // NaN target: 0
                }
                T block = Vector256.Sum(acc);
                for (; j < n; j++)
                {
                    if (T.IsNaN(t[j])) continue;
                    T a = T.Abs(p[j] - t[j]);
                    block += a < Beta ? a * a * inverse : a - half * Beta;
                }
                total += ToDouble(block);
            }
            return total;
        }
    }

    /// <summary>dp (+)= C·s′β(p − t) where t is present, (+)= 0 where it is NaN.</summary>
    private unsafe struct SmoothL1GradientJob : IChunkJob
    {
        public T* P, Target, D;
        public T Beta, C;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            int width = Vector256<T>.Count, i = start, end = start + count;
            T overBeta = Beta > T.Zero ? C / Beta : T.Zero;
            var c = Vector256.Create(C);
            var cb = Vector256.Create(overBeta);
            var b = Vector256.Create(Beta);
            var zero = Vector256<T>.Zero;
            for (; i + width <= end; i += width)
            {
                var tv = Vector256.Load(Target + i);
                var d = Vector256.Load(P + i) - tv;
                var sign = Vector256.ConditionalSelect(Vector256.GreaterThan(d, zero), c,
                    Vector256.ConditionalSelect(Vector256.LessThan(d, zero), -c, zero));
                var g = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(d), b), d * cb, sign);
                g = Vector256.ConditionalSelect(Vector256.Equals(tv, tv), g, zero);
                if (Accumulate) g += Vector256.Load(D + i);
                g.Store(D + i);
            }
            for (; i < end; i++)
            {
                T g = T.Zero;
                if (!T.IsNaN(Target[i]))
                {
                    T d = P[i] - Target[i];
                    g = T.Abs(d) < Beta ? d * overBeta : d > T.Zero ? C : d < T.Zero ? -C : T.Zero;
                }
                D[i] = Accumulate ? D[i] + g : g;
            }
            return 0;
        }
    }
}
