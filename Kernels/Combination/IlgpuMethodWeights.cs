using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using DoubleView = ArrayView1D<double, Stride1D.Dense>;

/// <summary>The per-step weights of GLS and RLW as single-thread kernels (T is small; float64 inside, with
/// <see cref="DeviceMath"/>'s log and exp: ILGPU's Math.Log/Math.Exp would give them a local-memory stack frame on CUDA).
/// Readable references: Kernels/Combination/CpuMethodWeights.cs.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, float, FloatView>? _geometricMeanKernel;
    private Action<AcceleratorStream, Index1D, ulong, DoubleView, FloatView>? _randomSoftmaxKernel;

    /// <summary>wᵢ = G/(T·max(Lᵢ, m)), G = exp(mean log max(Lⱼ, m)).</summary>
    private static void GeometricMeanKernel(Index1D index, FloatView losses, float minLoss, FloatView weights)
    {
        if (index != 0) return;
        int count = (int)losses.Length;
        double logs = 0;
        for (int i = 0; i < count; i++) logs += DeviceMath.Log(Clamped(losses[i], minLoss));
        double g = DeviceMath.Exp(logs / count);
        for (int i = 0; i < count; i++) weights[i] = (float)(g / (count * Clamped(losses[i], minLoss)));
    }

    /// <summary>w = softmax(z), zᵢ = CounterRandom.NormalOnDevice(seed, s, i) (CounterRandom.Normal to within ulps),
    /// s = steps[0], which the kernel then advances.</summary>
    private static void RandomSoftmaxKernel(Index1D index, ulong seed, DoubleView steps, FloatView weights)
    {
        if (index != 0) return;
        long step = (long)steps[0];
        steps[0] = steps[0] + 1;
        int count = (int)weights.Length;
        double max = double.NegativeInfinity, total = 0;
        for (int i = 0; i < count; i++) max = Math.Max(max, CounterRandom.NormalOnDevice(seed, step, i));
        for (int i = 0; i < count; i++) total += DeviceMath.Exp(CounterRandom.NormalOnDevice(seed, step, i) - max);
        for (int i = 0; i < count; i++) weights[i] = (float)(DeviceMath.Exp(CounterRandom.NormalOnDevice(seed, step, i) - max) / total);
    }

    /// <inheritdoc/>
    public override void GeometricMeanWeights(View<float> losses, float minLoss, View<float> weights)
    {
        CombinationChecks.CheckLossBalanced(this, losses, minLoss, weights);
        _geometricMeanKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, float, FloatView>(GeometricMeanKernel);
        _geometricMeanKernel(Launched(), 1, losses.Ilgpu(), minLoss, weights.Ilgpu());
    }

    /// <inheritdoc/>
    public override void RandomSoftmaxWeights(ulong seed, View<double> steps, View<float> weights)
    {
        CombinationChecks.CheckRandomSoftmax(this, steps, weights);
        _randomSoftmaxKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, ulong, DoubleView, FloatView>(RandomSoftmaxKernel);
        _randomSoftmaxKernel(Launched(), 1, seed, steps.Ilgpu(), weights.Ilgpu());
    }
}
