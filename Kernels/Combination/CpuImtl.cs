namespace Engine.Kernels.Cpu;

/// <summary>IMTL-G's coefficients on the host: <see cref="ImtlSolver"/> (float64) over host memory. The O(T·P) passes
/// around it are the SIMD <c>Gram</c> and <c>LinearCombination</c> kernels. Maths: docs/maths.md §18.6.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void ImtlCoefficients(View<T> gram, int count, View<T> weights, View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckGramSolve(this, gram, count, weights, workspace, ImtlSolver.WorkspaceLength(count), coefficients);
        ImtlSolver.Solve(new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer()), count);
    }
}
