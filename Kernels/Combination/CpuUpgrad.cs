namespace Engine.Kernels.Cpu;

/// <summary>UPGrad's coefficients on the host: <see cref="UpgradSolver"/> (float64, T active-set QPs) over host memory.
/// The O(T·P) passes around it are the SIMD <c>Gram</c> and <c>LinearCombination</c> kernels. Maths: docs/maths.md §18.8.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void UpgradCoefficients(View<T> gram, int count, View<T> weights, double regularization, int maxIterations,
        View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckUpgrad(this, gram, count, weights, regularization, maxIterations, workspace, coefficients);
        UpgradSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()),
            count, regularization, maxIterations);
    }
}
