namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void LossBalancedWeights(View<T> losses, T minLoss, View<T> weights)
    {
        CombinationChecks.CheckLossBalanced(this, losses, minLoss, weights);
        ReadOnlySpan<T> l = losses.Span();
        Span<T> w = weights.Span();
        double min = double.CreateTruncating(minLoss), total = 0;
        // Math.Max keeps a NaN (the rule of both backends: a NaN loss makes every weight NaN; +∞ gives weight 0).
        for (int i = 0; i < l.Length; i++) total += 1.0 / Math.Max(double.CreateTruncating(l[i]), min);
        for (int i = 0; i < l.Length; i++) w[i] = T.CreateTruncating(1.0 / Math.Max(double.CreateTruncating(l[i]), min) / total);
    }


    /// <inheritdoc/>
    public override void UncertaintyWeights(View<T> losses, View<T> logVariances, View<T> weights,
        View<T> logVarianceGradients, bool accumulate, View<T> totalLoss, int sign = -1)
    {
        CombinationChecks.CheckUncertainty(this, losses, logVariances, weights, logVarianceGradients, totalLoss, sign);
        ReadOnlySpan<T> l = losses.Span(), s = logVariances.Span();
        Span<T> w = weights.Span(), ds = logVarianceGradients.Span();
        double total = 0;
        for (int i = 0; i < l.Length; i++)
        {
            double li = double.CreateTruncating(l[i]), si = double.CreateTruncating(s[i]);
            double precision = Math.Exp(sign * si);
            w[i] = T.CreateTruncating(precision);
            double gradient = -sign * (1.0 - precision * li);
            ds[i] = T.CreateTruncating(accumulate ? double.CreateTruncating(ds[i]) + gradient : gradient);
            total += precision * li - sign * si;
        }
        if (!totalLoss.IsEmpty) totalLoss.Span()[0] = T.CreateTruncating(total);
    }

}
