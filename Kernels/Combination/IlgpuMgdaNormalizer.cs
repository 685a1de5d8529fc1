using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>MGDA's normalised task weights as a single-thread kernel: the same <see cref="MgdaNormalizer"/> code (float64)
/// over device memory. Maths: docs/maths.md §18.16.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, int, FloatView, FloatView, int, FloatView>? _mgdaNormalizerKernel;

    private static void MgdaNormalizerKernel(Index1D index, FloatView gram, int count, FloatView losses, FloatView weights, int normalization,
        FloatView normalized)
    {
        if (index != 0) return;
        for (int i = 0; i < count; i++)
            normalized[i] = (float)MgdaNormalizer.Weight(normalization, gram[i * count + i], losses[i], weights[i]);
    }

    /// <inheritdoc/>
    public override void MgdaNormalizedWeights(View<float> gram, int count, View<float> losses, View<float> weights,
        MgdaNormalization normalization, View<float> normalized)
    {
        CombinationChecks.CheckMgdaNormalizer(this, gram, count, losses, weights, normalization, normalized);
        _mgdaNormalizerKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, FloatView, FloatView, int, FloatView>(MgdaNormalizerKernel);
        _mgdaNormalizerKernel(Launched(), 1, gram.Ilgpu(), count, losses.Ilgpu(), weights.Ilgpu(), (int)normalization, normalized.Ilgpu());
    }
}
