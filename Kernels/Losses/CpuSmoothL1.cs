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
    public override unsafe void MaskedSmoothL1Forward(View<T> prediction, View<T> target, T beta, T scale, View<T> loss, View<T> count)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        MaskedLossChecks.Beta(beta);
        var job = new SmoothL1Job { P = prediction.Pointer(), Target = target.Pointer(), Beta = beta };
        double sum = RunChunks(job, prediction.Length);
        double n = RunChunks(new PresentCountJob { Target = target.Pointer() }, prediction.Length);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(ToDouble(scale) * sum / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedSmoothL1Backward(View<T> prediction, View<T> target, T beta, T scale, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate)
    {
        MaskedLossChecks.Mse(this, prediction, target, count);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        MaskedLossChecks.Beta(beta);
        T c = FromDouble(ToDouble(scale) * ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        var job = new SmoothL1GradientJob { P = prediction.Pointer(), Target = target.Pointer(), D = dPrediction.Pointer(), Beta = beta, C = c, Accumulate = accumulate };
        RunChunks(job, prediction.Length);
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
