using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// Keeps a skipped step from leaving a trace in a method's own state. A step whose gradient norm is not finite is skipped
/// on the device (the optimizer leaves parameters and moments as they were: <see cref="StepControl.Skip"/>), but a method
/// updates its state from the step's losses and gradients before that is known — MoCo's tracked gradients, DB-MTL's
/// moving averages, ExcessMTL's sums of squares, GradNorm's and FAMO's weights — so one NaN batch would poison every
/// later step. The guard copies every state buffer (<see cref="Optimizers.IMethodState{T}.StateBuffers"/>) at the start
/// of the step and, at its end, copies it back when the step was skipped (<see cref="Backend{T}.CopyIfSkipped"/>: the
/// flag is read on the device, no host round trip). Cost: one copy of the state per step, and a launch per buffer.
/// </summary>
internal sealed class MethodStateGuard : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly (View<float> State, DeviceBuffer<float> Saved)[] _buffers;

    public MethodStateGuard(Backend<float> backend, IEnumerable<View<float>> state)
    {
        _backend = backend;
        _buffers = [.. state.Where(v => v.Length > 0).Select(v => (v, backend.Allocate<float>(v.Length)))];
    }

    /// <summary>True when there is state to guard.</summary>
    public bool Guards => _buffers.Length > 0;

    /// <summary>Before the step: the state as it is.</summary>
    public void Save()
    {
        foreach (var (state, saved) in _buffers) _backend.Copy(state, saved.View);
    }

    /// <summary>After the step: the saved state back, if <paramref name="control"/> says the step was skipped.</summary>
    public void RestoreIfSkipped(View<float> control)
    {
        foreach (var (state, saved) in _buffers) _backend.CopyIfSkipped(control, saved.View, state);
    }

    public void Dispose()
    {
        foreach (var (_, saved) in _buffers) saved.Dispose();
    }
}
