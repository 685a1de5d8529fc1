namespace Engine.Kernels.Cpu;

/// <summary>Aligned-MTL's coefficients on the host: <see cref="AlignedMtlSolver"/> (float64, cyclic Jacobi) over host
/// memory. The O(T·P) passes around it are the SIMD <c>Gram</c> and <c>LinearCombination</c> kernels. Maths: docs/maths.md §18.7.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void AlignedMtlCoefficients(View<T> gram, int count, View<T> weights, int scale, int maxSweeps,
        View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckAlignedMtl(this, gram, count, weights, scale, maxSweeps, workspace, coefficients);
        AlignedMtlSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()),
            count, scale, maxSweeps);
    }
}
