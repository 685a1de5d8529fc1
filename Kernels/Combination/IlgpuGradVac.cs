using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>GradVac's coefficients and targets as a single-thread kernel: the same <see cref="GradVacSolver"/> code
/// (float64) over device memory, the targets kept in the workspace, no host round-trip. Maths: docs/maths.md §18.9.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, double, int>? _gradVacKernel;

    private static void GradVacKernel(Index1D index, IlgpuCombinationMemory memory, int count, double beta, int seed)
    {
        if (index == 0) GradVacSolver.Solve(memory, count, beta, seed);
    }

    /// <inheritdoc/>
    public override void GradVacCoefficients(View<float> gram, int count, View<float> weights, double beta, int seed,
        View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckGradVac(this, gram, count, weights, beta, workspace, coefficients);
        _gradVacKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, double, int>(GradVacKernel);
        _gradVacKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, beta, seed);
    }
}
