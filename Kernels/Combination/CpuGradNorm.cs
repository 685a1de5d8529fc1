using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary>GradNorm's state over host memory (T-typed: the state is saved and restored exactly).</summary>
internal unsafe readonly struct CpuGradNormMemory<T>(T* squaredNorms, T* losses, T* state) : IGradNormMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double SquaredNorm(int task) => double.CreateTruncating(squaredNorms[task]);
    public double Loss(int task) => double.CreateTruncating(losses[task]);
    public double Get(int index) => double.CreateTruncating(state[index]);
    public void Set(int index, double value) => state[index] = T.CreateTruncating(value);
}

/// <summary>GradNorm's weight update on the host: <see cref="GradNormSolver"/> (float64) over host memory. The O(T·P) pass
/// before it, the squared norms of the task gradients, is the SIMD <c>SegmentedSumOfSquares</c>. Maths: docs/maths.md §18.11.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void GradNormStep(View<T> squaredNorms, View<T> losses, View<T> state, GradNormSettings settings)
    {
        CombinationChecks.CheckGradNorm(this, squaredNorms, losses, state, settings);
        GradNormSolver.Step(new CpuGradNormMemory<T>(squaredNorms.Pointer(), losses.Pointer(), state.Pointer()), losses.Length, settings);
    }
}
