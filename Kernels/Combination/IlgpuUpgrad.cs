using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>UPGrad's coefficients as a single-thread kernel: the same <see cref="UpgradSolver"/> code (float64, T active-set
/// QPs) over device memory, no host round-trip. Maths: docs/maths.md §18.8.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, double, int>? _upgradKernel;

    private static void UpgradKernel(Index1D index, IlgpuCombinationMemory memory, int count, double regularization, int maxIterations)
    {
        if (index == 0) UpgradSolver.Solve(memory, count, regularization, maxIterations);
    }

    /// <inheritdoc/>
    public override void UpgradCoefficients(View<float> gram, int count, View<float> weights, double regularization, int maxIterations,
        View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckUpgrad(this, gram, count, weights, regularization, maxIterations, workspace, coefficients);
        _upgradKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, double, int>(UpgradKernel);
        _upgradKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, regularization, maxIterations);
    }
}
