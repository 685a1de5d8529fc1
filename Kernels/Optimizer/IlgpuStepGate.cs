using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;
using DenseDouble = ILGPU.Runtime.ArrayView1D<double, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>The gated step-control block on ILGPU: one thread copies the block and sets the skip flag when the task's
/// labelled count is 0 (maths: docs/maths.md §19.2).</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense>? _gateStepControl;

    /// <inheritdoc/>
    public override void GateStepControl(View<float> control, View<float> labelled, View<float> gated)
    {
        StepGateChecks.Check(this, control, labelled, gated);
        _gateStepControl ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense>(GateStepControlKernel);
        _gateStepControl(Launched(), 1, control.Ilgpu(), labelled.Ilgpu(), gated.Ilgpu());
    }

    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, StreamLayout>? _copyIfSkipped;

    /// <inheritdoc/>
    public override void CopyIfSkipped(View<float> control, View<float> source, View<float> destination)
    {
        StepGateChecks.CopyIfSkipped(this, control, source, destination);
        if (destination.Length == 0) return;
        var layout = StreamLayout.Of(destination.Length, source.Offset, destination.Offset);
        _copyIfSkipped ??= Accelerator.LoadKernel<Dense, Dense, Dense, StreamLayout>(CopyIfSkippedKernel);
        _copyIfSkipped(Launched(), StreamConfig(layout), control.Ilgpu(), source.Ilgpu(), destination.Ilgpu(), layout);
    }

    /// <summary>Every thread reads the flag (one uniform load) and returns when the step was not skipped, so the usual case
    /// costs a launch; a skipped step copies as the streaming kernels do (float4 grid-stride loop, scalar head and tail).</summary>
    internal static void CopyIfSkippedKernel(Dense control, Dense source, Dense destination, StreamLayout layout)
    {
        if (control[StepControl.Skip] == 0) return;
        var s4 = Vectors(source, layout);
        var d4 = Vectors(destination, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride) d4[j] = s4[j];
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int i = ScalarIndex(layout, t);
            destination[i] = source[i];
        }
    }

    private Action<AcceleratorStream, Index1D, Dense, DenseDouble, DenseDouble>? _copyIfSkippedFloat64;

    /// <inheritdoc/>
    public override void CopyIfSkippedFloat64(View<float> control, View<double> source, View<double> destination)
    {
        StepGateChecks.CopyIfSkipped(this, control, source, destination);
        if (destination.Length == 0) return;
        _copyIfSkippedFloat64 ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, DenseDouble, DenseDouble>(CopyIfSkippedFloat64Kernel);
        _copyIfSkippedFloat64(Launched(), destination.Length, control.Ilgpu(), source.Ilgpu(), destination.Ilgpu());
    }

    /// <summary>One thread per element: float64 state is small (GradVac's T² targets), so no vector loop; every thread reads
    /// the flag and returns when the step was not skipped.</summary>
    internal static void CopyIfSkippedFloat64Kernel(Index1D index, Dense control, DenseDouble source, DenseDouble destination)
    {
        if (control[StepControl.Skip] != 0) destination[index] = source[index];
    }

    /// <inheritdoc/>
    public override void CopyFloat64(View<double> source, View<double> destination)
    {
        StepGateChecks.Copy(this, source, destination);
        if (source.Length == 0) return;
        source.Ilgpu().CopyTo(Launched(), destination.Ilgpu());
    }

    internal static void GateStepControlKernel(Index1D index, Dense control, Dense labelled, Dense gated)
    {
        for (int i = 0; i < StepControl.Length; i++) gated[i] = control[i];
        if (labelled[0] == 0) gated[StepControl.Skip] = 1;
    }
}
