namespace Engine.Kernels.Cpu;

/// <summary>DB-MTL's kernels on the CPU: the log-loss weights and the coefficients are plain float64 loops (T is small);
/// the moving average is one SIMD pass over column chunks of every row that also sums the new rows' squared norms, split
/// across the workers (Kernels/Combination/CpuTrackedRows.cs). Readable reference: <see cref="DbMtlReference"/>. Maths: docs/maths.md §18.15.</summary>
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
    /// <remarks>One pass: <see cref="UpdateRowsAndGram"/> with keep = b and row scales (1 − b)·wᵢ, squared norms only.</remarks>
    public override void DbMtlAverage(View<T> vectors, int count, int length, View<T> weights, View<T> steps, double beta, double betaSigma,
        View<T> average, View<T> squaredNorms, View<T> saved = default)
    {
        CombinationChecks.CheckDbMtlAverage(this, vectors, count, length, weights, steps, beta, betaSigma, average, squaredNorms, saved);
        T rate = T.CreateTruncating(DbMtlRate(steps.Span()[0], beta, betaSigma));
        UpdateRowsAndGram(average, vectors, count, length, rate, T.One - rate, weights, allPairs: false, squaredNorms, saved);
    }

    /// <inheritdoc/>
    public override void DbMtlCoefficients(View<T> squaredNorms, int count, View<T> steps, View<T> coefficients)
    {
        CombinationChecks.CheckDbMtlCoefficients(this, squaredNorms, count, steps, coefficients);
        ReadOnlySpan<T> n = squaredNorms.Span();
        Span<T> a = coefficients.Span();
        double largest = 0;
        for (int i = 0; i < count; i++) largest = Math.Max(largest, Math.Sqrt(Math.Max(double.CreateTruncating(n[i]), 0)));
        for (int i = 0; i < count; i++)
            a[i] = T.CreateTruncating(largest / (Math.Sqrt(Math.Max(double.CreateTruncating(n[i]), 0)) + DbMtlReference.Epsilon));
        steps.Span()[0] += T.One;
    }
}
