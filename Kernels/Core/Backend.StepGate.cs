namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// The step-control block of a parameter range that is updated only when its task had labels in the batch:
    /// <c>gated = control</c>, except <c>gated[Skip] = 1</c> when <c>labelled[0] = 0</c>. An optimizer launched with
    /// <paramref name="gated"/> then leaves that range — parameters and moments — untouched (maths: docs/maths.md §19.2).
    /// The step count t is the model's (copied), so a later update uses the global bias correction.
    /// A single-thread kernel; nothing is read on the host.
    /// </summary>
    public abstract void GateStepControl(View<T> control, View<T> labelled, View<T> gated);
}
