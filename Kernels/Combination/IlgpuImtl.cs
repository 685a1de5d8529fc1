using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>IMTL-G's coefficients as a single-thread kernel: the same <see cref="ImtlSolver"/> code (float64) over device
/// memory, no host round-trip. Maths: docs/maths.md §18.6.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int>? _imtlKernel;

    private static void ImtlKernel(Index1D index, IlgpuCombinationMemory memory, int count)
    {
        if (index == 0) ImtlSolver.Solve(memory, count);
    }

    /// <inheritdoc/>
    public override void ImtlCoefficients(View<float> gram, int count, View<float> weights, View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckGramSolve(this, gram, count, weights, workspace, ImtlSolver.WorkspaceLength(count), coefficients);
        _imtlKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int>(ImtlKernel);
        _imtlKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()), count);
    }
}
