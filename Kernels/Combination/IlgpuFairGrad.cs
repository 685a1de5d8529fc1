using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>FairGrad's coefficients as a single-thread kernel: the same <see cref="FairGradSolver"/> code (float64, Newton's
/// method on ½βᵀG̃β − Σ φ(β)) over device memory, no host round-trip. Maths: docs/maths.md §18.13.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, double, int>? _fairGradKernel;

    private static void FairGradKernel(Index1D index, IlgpuCombinationMemory memory, int count, double alpha, int maxIterations)
    {
        if (index == 0) FairGradSolver.Solve(memory, count, alpha, maxIterations);
    }

    /// <inheritdoc/>
    public override void FairGradCoefficients(View<float> gram, int count, View<float> weights, double alpha, int maxIterations,
        View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckFairGrad(this, gram, count, weights, alpha, maxIterations, workspace, coefficients);
        _fairGradKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, double, int>(FairGradKernel);
        _fairGradKernel(Launched(), 1, new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, alpha, maxIterations);
    }
}
