using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>DB-MTL's kernels on the CPU: the log-loss weights and the coefficients are plain float64 loops (T is small);
/// the moving average is a SIMD pass (<see cref="TensorPrimitives"/>) over column chunks of every row, split across the
/// workers like <c>LinearCombination</c>. Readable reference: <see cref="DbMtlReference"/>. Maths: docs/maths.md §18.15.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void LogLossWeights(View<T> losses, double epsilon, View<T> weights)
    {
        CombinationChecks.CheckLogLoss(this, losses, epsilon, weights);
        ReadOnlySpan<T> l = losses.Span();
        Span<T> w = weights.Span();
        for (int i = 0; i < l.Length; i++) w[i] = T.CreateTruncating(1 / (double.CreateTruncating(l[i]) + epsilon));
    }

    /// <summary>b = β/(s + 1)^σ for the step after <paramref name="steps"/> steps (β when σ = 0).</summary>
    private static double DbMtlRate(T steps, double beta, double betaSigma) =>
        betaSigma == 0 ? beta : beta / Math.Pow(double.CreateTruncating(steps) + 1, betaSigma);

    /// <inheritdoc/>
    public override void DbMtlAverage(View<T> vectors, int count, int length, View<T> weights, View<T> steps, double beta, double betaSigma,
        View<T> average)
    {
        CombinationChecks.CheckDbMtlAverage(this, vectors, count, length, weights, steps, beta, betaSigma, average);
        T rate = T.CreateTruncating(DbMtlRate(steps.Span()[0], beta, betaSigma));
        int chunks = (length + CombinationChunk - 1) / CombinationChunk;
        if (chunks <= 1) AverageChunk(vectors, count, length, weights, rate, average, 0);
        else
        {
            var work = t_averageWork ??= new AverageWork();
            (work.Vectors, work.Count, work.Length, work.Weights, work.Rate, work.Average) = (vectors, count, length, weights, rate, average);
            Workers.Run(work, chunks);
            (work.Vectors, work.Weights, work.Average) = (default, default, default);
        }
    }

    [ThreadStatic] private static AverageWork? t_averageWork;

    private sealed class AverageWork : ParallelWork
    {
        public View<T> Vectors, Weights, Average;
        public int Count, Length;
        public T Rate;
        public override void Execute(int item) => AverageChunk(Vectors, Count, Length, Weights, Rate, Average, item);
    }

    /// <summary>ĝ ← b·ĝ + (1 − b)·w·g on one column chunk of every row (two SIMD passes over a chunk that stays in cache).</summary>
    private static void AverageChunk(View<T> vectors, int count, int length, View<T> weights, T rate, View<T> average, int chunk)
    {
        int start = chunk * CombinationChunk, width = Math.Min(CombinationChunk, length - start);
        if (width <= 0) return;
        ReadOnlySpan<T> v = vectors.Span(), w = weights.Span();
        Span<T> a = average.Span();
        for (int i = 0; i < count; i++)
        {
            var row = a.Slice(i * length + start, width);
            TensorPrimitives.Multiply(row, rate, row);
            TensorPrimitives.FusedMultiplyAdd(v.Slice(i * length + start, width), (T.One - rate) * w[i], row, row);
        }
    }

    /// <inheritdoc/>
    public override void DbMtlCoefficients(View<T> gram, int count, View<T> steps, View<T> coefficients)
    {
        CombinationChecks.CheckDbMtlCoefficients(this, gram, count, steps, coefficients);
        ReadOnlySpan<T> g = gram.Span();
        Span<T> a = coefficients.Span();
        double largest = 0;
        for (int i = 0; i < count; i++) largest = Math.Max(largest, Math.Sqrt(Math.Max(double.CreateTruncating(g[i * count + i]), 0)));
        for (int i = 0; i < count; i++)
            a[i] = T.CreateTruncating(largest / (Math.Sqrt(Math.Max(double.CreateTruncating(g[i * count + i]), 0)) + DbMtlReference.Epsilon));
        steps.Span()[0] += T.One;
    }
}
