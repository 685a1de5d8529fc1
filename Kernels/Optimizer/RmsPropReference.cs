namespace Engine.Kernels;

/// <summary>
/// RMSprop in float64, written as PyTorch 1.13's <c>_single_tensor_rmsprop</c> writes it, one array pass per line: the
/// reference the SIMD CPU path (<c>CpuRmsProp.cs</c>) and the ILGPU kernel (<c>IlgpuRmsProp.cs</c>) are tested against.
/// Maths: docs/maths.md §13.8.
/// </summary>
public static class RmsPropReference
{
    /// <summary>The state of one parameter: square_avg v, grad_avg ḡ (centered), momentum_buffer (momentum), all starting at 0.</summary>
    public sealed class State(int n)
    {
        /// <summary>v, the running average of g².</summary>
        public double[] SquareAverage { get; } = new double[n];
        /// <summary>ḡ, the running average of g (used when centered).</summary>
        public double[] GradientAverage { get; } = new double[n];
        /// <summary>The momentum buffer (used when μ &gt; 0).</summary>
        public double[] MomentumBuffer { get; } = new double[n];
    }

    /// <summary>One step on θ in place, with the gradient multiplied by the clip scale first.</summary>
    public static void Step(double[] theta, double[] gradient, State state, RmsPropSettings settings, double scale = 1)
    {
        int n = theta.Length;
        var (lr, alpha, eps, wd, mu) = (settings.LearningRate, settings.Alpha, settings.Epsilon, settings.WeightDecay, settings.Momentum);
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = gradient[i] * scale;                                          // clipping
        if (wd != 0) for (int i = 0; i < n; i++) g[i] += wd * theta[i];                                   // grad.add(param, alpha=wd)
        var v = state.SquareAverage;
        for (int i = 0; i < n; i++) v[i] = v[i] * alpha + (1 - alpha) * g[i] * g[i];                     // square_avg.mul_(α).addcmul_(g, g, 1−α)
        var avg = new double[n];
        if (settings.Centered)
        {
            var mean = state.GradientAverage;
            for (int i = 0; i < n; i++) mean[i] = mean[i] * alpha + (1 - alpha) * g[i];                 // grad_avg.mul_(α).add_(g, 1−α)
            for (int i = 0; i < n; i++) avg[i] = Math.Sqrt(v[i] - mean[i] * mean[i]);                    // addcmul(ḡ, ḡ, −1).sqrt_()
        }
        else for (int i = 0; i < n; i++) avg[i] = Math.Sqrt(v[i]);
        for (int i = 0; i < n; i++) avg[i] += eps;                                                        // avg.add_(eps)
        if (mu > 0)
        {
            var buf = state.MomentumBuffer;
            for (int i = 0; i < n; i++) buf[i] = buf[i] * mu + g[i] / avg[i];                            // buf.mul_(μ).addcdiv_(g, avg)
            for (int i = 0; i < n; i++) theta[i] += -lr * buf[i];                                         // param.add_(buf, −lr)
        }
        else for (int i = 0; i < n; i++) theta[i] += -lr * (g[i] / avg[i]);                              // param.addcdiv_(g, avg, −lr)
    }
}
