namespace Engine.Kernels.Cpu;

/// <summary>The per-step weights of GLS and RLW on the CPU (T is small: plain loops in float64).</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void GeometricMeanWeights(View<T> losses, T minLoss, View<T> weights)
    {
        CombinationChecks.CheckLossBalanced(this, losses, minLoss, weights);
        ReadOnlySpan<T> l = losses.Span();
        Span<T> w = weights.Span();
        double min = double.CreateTruncating(minLoss), logs = 0;
        int count = l.Length;
        // Math.Max keeps a NaN, so a NaN loss makes G and every weight NaN (the rule of both backends).
        for (int i = 0; i < count; i++) logs += Math.Log(Math.Max(double.CreateTruncating(l[i]), min));
        double g = Math.Exp(logs / count);                                       // G = (Π Lⱼ)^{1/T}
        for (int i = 0; i < count; i++) w[i] = T.CreateTruncating(g / (count * Math.Max(double.CreateTruncating(l[i]), min)));
    }

    /// <inheritdoc/>
    public override void RandomSoftmaxWeights(ulong seed, View<double> steps, View<T> weights)
    {
        CombinationChecks.CheckRandomSoftmax(this, steps, weights);
        Span<double> s = steps.Span();   // host memory on this backend: reading the count is no round trip
        long step = (long)s[0];
        s[0] += 1;
        Span<T> w = weights.Span();
        int count = w.Length;
        double max = double.NegativeInfinity, total = 0;
        for (int i = 0; i < count; i++) max = Math.Max(max, CounterRandom.Normal(seed, step, i));
        for (int i = 0; i < count; i++) total += Math.Exp(CounterRandom.Normal(seed, step, i) - max);
        for (int i = 0; i < count; i++) w[i] = T.CreateTruncating(Math.Exp(CounterRandom.Normal(seed, step, i) - max) / total);
    }
}
