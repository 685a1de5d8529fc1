using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>Nash-MTL's coefficients as a single-thread kernel: the same <see cref="NashMtlSolver"/> code (float64, Newton's
/// method on ½αᵀG̃α − Σ log α) over device memory, no host round-trip. Maths: docs/maths.md §18.12.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, int, double, int>? _nashMtlKernel;

    private static void NashMtlKernel(Index1D index, IlgpuCombinationMemory memory, int count, int maxIterations, double maxNorm, int update)
    {
        if (index == 0) NashMtlSolver.Solve(memory, count, maxIterations, maxNorm, update != 0);
    }

    /// <inheritdoc/>
    public override void NashMtlCoefficients(View<float> gram, int count, View<float> weights, int maxIterations, double maxNorm, bool update,
        View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckNashMtl(this, gram, count, weights, maxIterations, maxNorm, workspace, coefficients);
        _nashMtlKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, int, double, int>(NashMtlKernel);
        _nashMtlKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, maxIterations, maxNorm, update ? 1 : 0);
    }
}
