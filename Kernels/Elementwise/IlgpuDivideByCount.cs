using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// y[i, j] = x[i, j] / cᵢ (0 where cᵢ = 0), one thread per element, the counts read on the device: the division by
/// the global labelled counts after the data-parallel all-reduce (maths §20). Reference: Kernels/Elementwise/CpuDivideByCount.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int>? _divideByCount;

    /// <inheritdoc/>
    public override void DivideByCount(View<float> x, View<float> counts, View<float> y)
    {
        KernelChecks.DivideByCount(this, x, counts, y);
        if (x.Length == 0) return;
        _divideByCount ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int>(DivideByCountKernel);
        _divideByCount(Launched(), x.Length, x.Ilgpu(), counts.Ilgpu(), y.Ilgpu(), x.Length / counts.Length);
    }

    internal static void DivideByCountKernel(Index1D i, Dense x, Dense counts, Dense y, int width)
    {
        float c = counts[i / width];
        y[i] = c == 0f ? 0f : x[i] / c;
    }
}
