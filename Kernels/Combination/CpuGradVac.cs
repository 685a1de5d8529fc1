namespace Engine.Kernels.Cpu;

/// <summary>GradVac's coefficients and targets on the host: <see cref="GradVacSolver"/> (float64) over host memory. The
/// O(T·P) passes around it are the SIMD <c>Gram</c> and <c>LinearCombination</c> kernels. Maths: docs/maths.md §18.9.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void GradVacCoefficients(View<T> gram, int count, View<T> weights, double beta, int seed,
        View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckGradVac(this, gram, count, weights, beta, workspace, coefficients);
        GradVacSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()),
            count, beta, seed);
    }
}
