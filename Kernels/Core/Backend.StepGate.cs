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

    /// <summary>
    /// Undoes a skipped step's writes to a buffer: <c>destination = source</c> when <c>control[Skip] ≠ 0</c> (the step was
    /// skipped: a non-finite gradient norm), else nothing. <paramref name="source"/> is a copy taken before the step, so a
    /// method's state (MoCo's tracked gradients, FAMO's logits, …) is left as it was, bit for bit. Reference:
    /// <c>if (control[StepControl.Skip] != 0) source.CopyTo(destination);</c>. Nothing is read on the host.
    /// </summary>
    public abstract void CopyIfSkipped(View<T> control, View<T> source, View<T> destination);
}
