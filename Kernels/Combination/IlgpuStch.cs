using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>STCH's per-step weights as a single-thread kernel (T is small; float64 inside, with <see cref="DeviceMath"/>'s
/// log and exp). Readable reference: Kernels/Combination/CpuStch.cs.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, float, int, FloatView, FloatView, int>? _stchKernel;

    /// <summary>state = [sums (T), count, epoch]; see <see cref="Backend{T}.StchWeights"/>.</summary>
    private static void StchKernel(Index1D index, FloatView losses, float mu, int warmupEpochs, FloatView state, FloatView weights, int endOfEpoch)
    {
        if (index != 0) return;
        int count = (int)losses.Length;
        if (endOfEpoch != 0)
        {
            state[count + 1] += 1f;
            return;
        }
        const double Tiny = 1e-20;
        double epoch = state[count + 1];
        if (epoch <= warmupEpochs)
        {
            for (int i = 0; i < count; i++) weights[i] = (float)(1 / ((double)losses[i] + Tiny));
            if (epoch == warmupEpochs)
            {
                for (int i = 0; i < count; i++) state[i] += losses[i];
                state[count] += 1f;
            }
            return;
        }
        double steps = state[count];
        double max = double.NegativeInfinity, total = 0;
        for (int i = 0; i < count; i++) max = Math.Max(max, DeviceMath.Log(losses[i] / (state[i] / steps) + Tiny) / mu);
        for (int i = 0; i < count; i++) total += DeviceMath.Exp(DeviceMath.Log(losses[i] / (state[i] / steps) + Tiny) / mu - max);
        for (int i = 0; i < count; i++)
        {
            double nadir = state[i] / steps;
            double p = DeviceMath.Exp(DeviceMath.Log(losses[i] / nadir + Tiny) / mu - max) / total;
            weights[i] = (float)(count * p / (losses[i] + Tiny * nadir));
        }
    }

    /// <inheritdoc/>
    public override void StchWeights(View<float> losses, float mu, int warmupEpochs, View<float> state, View<float> weights, bool endOfEpoch)
    {
        CombinationChecks.CheckStch(this, losses, mu, warmupEpochs, state, weights);
        _stchKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, float, int, FloatView, FloatView, int>(StchKernel);
        _stchKernel(Launched(), 1, losses.Ilgpu(), mu, warmupEpochs, state.Ilgpu(), weights.Ilgpu(), endOfEpoch ? 1 : 0);
    }
}
