using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, float, FloatView>? _lossBalancedKernel;
    private Action<AcceleratorStream, Index1D, FloatView, FloatView, FloatView, FloatView, int, FloatView, int, int>? _uncertaintyKernel;

    /// <summary>Single-thread kernel: wᵢ = (1/max(Lᵢ, m))/Σⱼ(1/max(Lⱼ, m)) (sums in float64).</summary>
    private static void LossBalancedKernel(Index1D index, FloatView losses, float minLoss, FloatView weights)
    {
        if (index != 0) return;
        int count = (int)losses.Length;
        double total = 0;
        for (int i = 0; i < count; i++) total += 1.0 / Clamped(losses[i], minLoss);
        for (int i = 0; i < count; i++) weights[i] = (float)(1.0 / Clamped(losses[i], minLoss) / total);
    }

    /// <summary>max(L, m), but NaN stays NaN (the rule of both backends: a NaN loss makes every weight NaN).</summary>
    private static double Clamped(float loss, float minLoss) => float.IsNaN(loss) ? double.NaN : loss > minLoss ? loss : minLoss;

    /// <inheritdoc/>
    public override void LossBalancedWeights(View<float> losses, float minLoss, View<float> weights)
    {
        CombinationChecks.CheckLossBalanced(this, losses, minLoss, weights);
        _lossBalancedKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, float, FloatView>(LossBalancedKernel);
        _lossBalancedKernel(Launched(), 1, losses.Ilgpu(), minLoss, weights.Ilgpu());
    }

    /// <summary>Single-thread kernel: wᵢ = exp(σsᵢ), ∂L/∂sᵢ (+)= −σ(1 − exp(σsᵢ)Lᵢ), total = Σ exp(σsᵢ)Lᵢ − σsᵢ; σ = −1
    /// uncertainty, +1 IMTL-L.</summary>
    private static void UncertaintyKernel(Index1D index, FloatView losses, FloatView logVariances, FloatView weights,
        FloatView gradients, int accumulate, FloatView totalLoss, int writeTotal, int sign)
    {
        if (index != 0) return;
        int count = (int)losses.Length;
        double total = 0;
        for (int i = 0; i < count; i++)
        {
            // exp in float32 (XMath.Exp: ex2.approx on CUDA, about 2⁻²² relative): Math.Exp(double) would compile to
            // a long software routine with a 64-byte stack frame, for a weight that is stored as float32 anyway.
            double precision = XMath.Exp(sign * logVariances[i]);
            weights[i] = (float)precision;
            double gradient = -sign * (1.0 - precision * losses[i]);
            gradients[i] = (float)(accumulate != 0 ? gradients[i] + gradient : gradient);
            total += precision * losses[i] - sign * logVariances[i];
        }
        if (writeTotal != 0) totalLoss[0] = (float)total;
    }

    /// <inheritdoc/>
    public override void UncertaintyWeights(View<float> losses, View<float> logVariances, View<float> weights,
        View<float> logVarianceGradients, bool accumulate, View<float> totalLoss, int sign = -1)
    {
        CombinationChecks.CheckUncertainty(this, losses, logVariances, weights, logVarianceGradients, totalLoss, sign);
        _uncertaintyKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, FloatView, FloatView, FloatView, int, FloatView, int, int>(UncertaintyKernel);
        // The empty view maps to a zero-length ILGPU view; pass the weights as a harmless stand-in the kernel never writes.
        var total = totalLoss.IsEmpty ? weights.Ilgpu() : totalLoss.Ilgpu();
        _uncertaintyKernel(Launched(), 1, losses.Ilgpu(), logVariances.Ilgpu(), weights.Ilgpu(), logVarianceGradients.Ilgpu(),
            accumulate ? 1 : 0, total, totalLoss.IsEmpty ? 0 : 1, sign);
    }
}
