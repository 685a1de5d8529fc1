namespace Engine.Kernels.Cpu;

/// <summary>Nash-MTL's coefficients on the host: <see cref="NashMtlSolver"/> (float64, Newton's method on
/// ½αᵀG̃α − Σ log α) over host memory. The O(T·P) passes around it are the SIMD <c>Gram</c> and <c>LinearCombination</c>
/// kernels. Maths: docs/maths.md §18.12.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void NashMtlCoefficients(View<T> gram, int count, View<T> weights, int maxIterations, double maxNorm, bool update,
        View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckNashMtl(this, gram, count, weights, maxIterations, maxNorm, workspace, coefficients);
        NashMtlSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()),
            count, maxIterations, maxNorm, update);
    }
}
