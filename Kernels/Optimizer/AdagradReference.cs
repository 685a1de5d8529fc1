namespace Engine.Kernels;

/// <summary>
/// Adagrad in float64, written as PyTorch 1.13's <c>_single_tensor_adagrad</c> writes it, one array pass per line: the
/// reference the SIMD CPU path (<c>CpuAdagrad.cs</c>) and the ILGPU kernel (<c>IlgpuAdagrad.cs</c>) are tested against.
/// Maths: docs/maths.md §13.9.
/// </summary>
public static class AdagradReference
{
    /// <summary>One step on θ in place at step count <paramref name="step"/> (1-based, after the increment), with the
    /// gradient multiplied by the clip scale first; <paramref name="stateSum"/> is Σg² (starting at initial_accumulator_value).</summary>
    public static void Step(double[] theta, double[] gradient, double[] stateSum, long step, AdagradSettings settings, double scale = 1)
    {
        int n = theta.Length;
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = gradient[i] * scale;                                           // clipping
        if (settings.WeightDecay != 0) for (int i = 0; i < n; i++) g[i] += settings.WeightDecay * theta[i]; // grad.add(param, alpha=wd)
        double clr = settings.LearningRate / (1 + (step - 1) * settings.LearningRateDecay);                // lr / (1 + (step − 1)·lr_decay)
        for (int i = 0; i < n; i++) stateSum[i] += g[i] * g[i];                                           // state_sum.addcmul_(g, g, 1)
        var std = new double[n];
        for (int i = 0; i < n; i++) std[i] = Math.Sqrt(stateSum[i]) + settings.Epsilon;                    // state_sum.sqrt().add_(eps)
        for (int i = 0; i < n; i++) theta[i] += -clr * (g[i] / std[i]);                                   // param.addcdiv_(g, std, −clr)
    }
}
