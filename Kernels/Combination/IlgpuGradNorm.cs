using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>GradNorm's state over device memory.</summary>
public readonly struct IlgpuGradNormMemory(FloatView squaredNorms, FloatView losses, FloatView state) : IGradNormMemory
{
    public double SquaredNorm(int task) => squaredNorms[task];
    public double Loss(int task) => losses[task];
    public double Get(int index) => state[index];
    public void Set(int index, double value) => state[index] = (float)value;
}

/// <summary>GradNorm's weight update as a single-thread kernel: the same <see cref="GradNormSolver"/> code (float64,
/// <see cref="DeviceMath"/>'s exp and log) over device memory, the state kept on the device, no host round-trip.
/// Readable reference: Kernels/Combination/GradNormSolver.cs. Maths: docs/maths.md §18.11.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuGradNormMemory, int, GradNormSettings>? _gradNormKernel;

    private static void GradNormKernel(Index1D index, IlgpuGradNormMemory memory, int count, GradNormSettings settings)
    {
        if (index == 0) GradNormSolver.Step(memory, count, settings);
    }

    /// <inheritdoc/>
    public override void GradNormStep(View<float> squaredNorms, View<float> losses, View<float> state, GradNormSettings settings)
    {
        CombinationChecks.CheckGradNorm(this, squaredNorms, losses, state, settings);
        _gradNormKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuGradNormMemory, int, GradNormSettings>(GradNormKernel);
        _gradNormKernel(Launched(), 1, new IlgpuGradNormMemory(squaredNorms.Ilgpu(), losses.Ilgpu(), state.Ilgpu()), losses.Length, settings);
    }
}
