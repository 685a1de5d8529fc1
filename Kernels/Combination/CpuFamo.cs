using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary><see cref="IFamoMemory"/> over host pointers: the state in the backend's precision T, the arithmetic in float64.</summary>
internal unsafe readonly struct CpuFamoMemory<T>(T* losses, T* state, T* weights) : IFamoMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double Loss(int task) => double.CreateTruncating(losses[task]);
    public double Get(int index) => double.CreateTruncating(state[index]);
    public void Set(int index, double value) => state[index] = T.CreateTruncating(value);
    public void SetWeight(int task, double value) => weights[task] = T.CreateTruncating(value);
}

/// <summary>FAMO's per-step update on the host: <see cref="FamoSolver"/> (O(T) scalar loops, float64; T is small, so
/// there is nothing for SIMD to do). Maths: docs/maths.md §18.10.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void FamoWeights(View<T> losses, FamoParameters parameters, View<T> state, View<T> weights, int phase)
    {
        CombinationChecks.CheckFamo(this, losses, parameters, state, weights, phase);
        FamoSolver.Step(new CpuFamoMemory<T>(losses.Pointer(), state.Pointer(), weights.Pointer()), (int)losses.Length, parameters, phase);
    }
}
