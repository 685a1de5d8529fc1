using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary><see cref="IFamoMemory"/> over device views (float32 state, float64 arithmetic).</summary>
public readonly struct IlgpuFamoMemory(FloatView losses, FloatView state, FloatView weights) : IFamoMemory
{
    public double Loss(int task) => losses[task];
    public double Get(int index) => state[index];
    public void Set(int index, double value) => state[index] = (float)value;
    public void SetWeight(int task, double value) => weights[task] = (float)value;
}

/// <summary>FAMO's per-step update as a single-thread kernel: the same <see cref="FamoSolver"/> code over device memory,
/// the logits, their Adam moments and the previous losses kept in the state view; no host round-trip. Readable
/// reference: Kernels/Combination/FamoSolver.cs. Maths: docs/maths.md §18.10.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuFamoMemory, int, FamoParameters, int>? _famoKernel;

    private static void FamoKernel(Index1D index, IlgpuFamoMemory memory, int count, FamoParameters parameters, int phase)
    {
        if (index == 0) FamoSolver.Step(memory, count, parameters, phase);
    }

    /// <inheritdoc/>
    public override void FamoWeights(View<float> losses, FamoParameters parameters, View<float> state, View<float> weights, int phase)
    {
        CombinationChecks.CheckFamo(this, losses, parameters, state, weights, phase);
        _famoKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuFamoMemory, int, FamoParameters, int>(FamoKernel);
        _famoKernel(Launched(), 1, new IlgpuFamoMemory(losses.Ilgpu(), state.Ilgpu(), weights.Ilgpu()), (int)losses.Length, parameters, phase);
    }
}
