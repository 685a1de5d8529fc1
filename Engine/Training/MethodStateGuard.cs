using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// Keeps a skipped step from leaving a trace in a method's own state. A step whose gradient norm is not finite is skipped
/// on the device (the optimizer leaves parameters and moments as they were: <see cref="StepControl.Skip"/>), but a method
/// updates its state from the step's losses and gradients before that is known — MoCo's tracked gradients, DB-MTL's
/// moving averages, ExcessMTL's sums of squares, GradNorm's and FAMO's weights — so one NaN batch would poison every
/// later step. The guard copies every state buffer (<see cref="Optimizers.IMethodState{T}.StateBuffers"/>) at the start
/// of the step and, at its end, copies it back when the step was skipped (<see cref="Backend{T}.CopyIfSkipped"/>: the
/// flag is read on the device, no host round trip); float64 state (GradVac's targets,
/// <see cref="Optimizers.IMethodState{T}.Float64StateBuffers"/>) the same way (<see cref="Backend{T}.CopyFloat64"/>,
/// <see cref="Backend{T}.CopyIfSkippedFloat64"/>). Cost: one copy of the state per step, and a launch per buffer — except for
/// the large state a method's own pass rewrites (<see cref="Optimizers.IStateSavedByItsPass{T}"/>: MoCo's Y, DB-MTL's
/// averages, ExcessMTL's S, T × P each): that pass writes the old values into the guard's buffer as it reads them, so
/// <see cref="Save"/> copies nothing of it (one write stream in the pass instead of a read and a write here).
/// </summary>
internal sealed class MethodStateGuard : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly (View<float> State, DeviceBuffer<float> Saved)[] _copied, _savedByPass;
    private readonly (View<double> State, DeviceBuffer<double> Saved)[] _float64;

    /// <param name="backend">The device.</param>
    /// <param name="state">Every float32 state view of the step's methods.</param>
    /// <param name="float64State">Every float64 state view.</param>
    /// <param name="savers">The methods whose pass saves some of those views itself: each is handed its buffers here.</param>
    public MethodStateGuard(Backend<float> backend, IEnumerable<View<float>> state, IEnumerable<View<double>> float64State,
        IEnumerable<Optimizers.IStateSavedByItsPass<float>> savers)
    {
        _backend = backend;
        var byPass = new List<(View<float>, DeviceBuffer<float>)>();
        foreach (var saver in savers)
        {
            var view = saver.SavedByItsPass;
            if (view.Length == 0) continue;   // nothing to save (no shared parameter)
            var buffer = backend.Allocate<float>(view.Length);
            saver.SaveBeforeItsPass(buffer.View);
            byPass.Add((view, buffer));
        }
        _savedByPass = [.. byPass];
        _copied = [.. state.Where(v => v.Length > 0 && !byPass.Any(p => p.Item1 == v)).Select(v => (v, backend.Allocate<float>(v.Length)))];
        _float64 = [.. float64State.Where(v => v.Length > 0).Select(v => (v, backend.Allocate<double>(v.Length)))];
    }

    /// <summary>True when there is state to guard.</summary>
    public bool Guards => _copied.Length > 0 || _savedByPass.Length > 0 || _float64.Length > 0;

    /// <summary>Before the step: the state as it is (the state saved by its methods' passes is saved there, later).</summary>
    public void Save()
    {
        foreach (var (state, saved) in _copied) _backend.Copy(state, saved.View);
        foreach (var (state, saved) in _float64) _backend.CopyFloat64(state, saved.View);
    }

    /// <summary>After the step: the saved state back, if <paramref name="control"/> says the step was skipped.</summary>
    public void RestoreIfSkipped(View<float> control)
    {
        foreach (var (state, saved) in _copied) _backend.CopyIfSkipped(control, saved.View, state);
        foreach (var (state, saved) in _savedByPass) _backend.CopyIfSkipped(control, saved.View, state);
        foreach (var (state, saved) in _float64) _backend.CopyIfSkippedFloat64(control, saved.View, state);
    }

    public void Dispose()
    {
        foreach (var (_, saved) in _copied) saved.Dispose();
        foreach (var (_, saved) in _savedByPass) saved.Dispose();
        foreach (var (_, saved) in _float64) saved.Dispose();
    }
}
