namespace Engine.Kernels.Cpu;

/// <summary>STCH's per-step weights on the CPU (T is small: plain loops in float64). The readable reference of the
/// ILGPU kernel in Kernels/Combination/IlgpuStch.cs.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void StchWeights(View<T> losses, T mu, int warmupEpochs, View<T> state, View<T> weights, bool endOfEpoch)
    {
        CombinationChecks.CheckStch(this, losses, mu, warmupEpochs, state, weights);
        Span<T> s = state.Span();
        int count = losses.Length;
        if (endOfEpoch)
        {
            s[count + 1] += T.One;                                               // e += 1
            return;
        }
        ReadOnlySpan<T> l = losses.Span();
        Span<T> w = weights.Span();
        const double Tiny = 1e-20;                                               // LibMTL's 1e-20 inside the logs
        double epoch = double.CreateTruncating(s[count + 1]);
        if (epoch <= warmupEpochs)
        {
            // Warm-up: the gradient of Σ log(Lᵢ + 1e-20); the last warm-up epoch also sums the losses for the nadir point.
            for (int i = 0; i < count; i++) w[i] = T.CreateTruncating(1 / (double.CreateTruncating(l[i]) + Tiny));
            if (epoch == warmupEpochs)
            {
                for (int i = 0; i < count; i++) s[i] += l[i];
                s[count] += T.One;
            }
            return;
        }
        double steps = double.CreateTruncating(s[count]), m = double.CreateTruncating(mu);
        double max = double.NegativeInfinity, total = 0;
        for (int i = 0; i < count; i++) max = Math.Max(max, Scaled(l[i], s[i], steps, m));
        for (int i = 0; i < count; i++) total += Math.Exp(Scaled(l[i], s[i], steps, m) - max);
        for (int i = 0; i < count; i++)
        {
            double nadir = double.CreateTruncating(s[i]) / steps;
            w[i] = T.CreateTruncating(count * Math.Exp(Scaled(l[i], s[i], steps, m) - max) / total / (double.CreateTruncating(l[i]) + Tiny * nadir));
        }
    }

    /// <summary>ℓᵢ/μ = log(Lᵢ/nᵢ + 1e-20)/μ, nᵢ = sumᵢ/steps.</summary>
    private static double Scaled(T loss, T sum, double steps, double mu) =>
        Math.Log(double.CreateTruncating(loss) / (double.CreateTruncating(sum) / steps) + 1e-20) / mu;
}
