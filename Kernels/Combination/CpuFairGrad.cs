namespace Engine.Kernels.Cpu;

/// <summary>FairGrad's coefficients on the host: <see cref="FairGradSolver"/> (float64, Newton's method on
/// ½βᵀG̃β − Σ φ(β)) over host memory. The O(T·P) passes around it are the SIMD <c>Gram</c> and <c>LinearCombination</c>
/// kernels. Maths: docs/maths.md §18.13.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void FairGradCoefficients(View<T> gram, int count, View<T> weights, double alpha, int maxIterations,
        View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckFairGrad(this, gram, count, weights, alpha, maxIterations, workspace, coefficients);
        FairGradSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()),
            count, alpha, maxIterations);
    }
}
