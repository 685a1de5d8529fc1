using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>Aligned-MTL's coefficients as a single-thread kernel: the same <see cref="AlignedMtlSolver"/> code (float64,
/// cyclic Jacobi) over device memory, no host round-trip. Maths: docs/maths.md §18.7.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, int, int>? _alignedMtlKernel;

    private static void AlignedMtlKernel(Index1D index, IlgpuCombinationMemory memory, int count, int scale, int maxSweeps)
    {
        if (index == 0) AlignedMtlSolver.Solve(memory, count, scale, maxSweeps);
    }

    /// <inheritdoc/>
    public override void AlignedMtlCoefficients(View<float> gram, int count, View<float> weights, int scale, int maxSweeps,
        View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckAlignedMtl(this, gram, count, weights, scale, maxSweeps, workspace, coefficients);
        _alignedMtlKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, int, int>(AlignedMtlKernel);
        _alignedMtlKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, scale, maxSweeps);
    }
}
