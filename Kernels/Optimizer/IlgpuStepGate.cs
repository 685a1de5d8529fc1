using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

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

    internal static void GateStepControlKernel(Index1D index, Dense control, Dense labelled, Dense gated)
    {
        for (int i = 0; i < StepControl.Length; i++) gated[i] = control[i];
        if (labelled[0] == 0) gated[StepControl.Skip] = 1;
    }
}
