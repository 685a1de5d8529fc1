using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Mean squared error on ILGPU (maths: docs/maths.md §8, "Mean squared error"). The forward
/// pass is the two-pass reduction of (p − t)² scaled by 1/N; the backward pass is one thread per
/// element and reads the upstream scalar from device memory.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense, int>? _mseBackward;

    /// <inheritdoc/>
    public override void MseForward(View<float> prediction, View<float> target, View<float> loss)
    {
        KernelChecks.Mse(this, prediction, target);
        KernelChecks.Scalar(this, loss, nameof(loss));
        ReduceTerms(Terms.SquaredDifferences, prediction, target, 1f / prediction.Length, loss);
    }

    /// <inheritdoc/>
    public override void MseBackward(View<float> prediction, View<float> target, View<float> upstream, View<float> dPrediction, bool accumulate)
    {
        KernelChecks.Mse(this, prediction, target);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        _mseBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense, int>(MseBackwardKernel);
        _mseBackward(Launched(), prediction.Length, prediction.Ilgpu(), target.Ilgpu(), upstream.Ilgpu(), dPrediction.Ilgpu(), accumulate ? 1 : 0);
    }

    /// <summary>dp (+)= c·(p − t) with c = 2·upstream/N.</summary>
    internal static void MseBackwardKernel(Index1D i, Dense prediction, Dense target, Dense upstream, Dense dPrediction, int accumulate)
    {
        float c = 2 * upstream[0] / prediction.IntLength;
        float d = c * (prediction[i] - target[i]);
        dPrediction[i] = accumulate != 0 ? dPrediction[i] + d : d;
    }
}
