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

    /// <summary>
    /// <see cref="CopyIfSkipped"/> for float64 state (GradVac's cosine targets and step count, kept in float64 by its
    /// solver): <c>destination = source</c> when <c>control[Skip] ≠ 0</c>, else nothing; bit for bit, NaN included.
    /// Nothing is read on the host.
    /// </summary>
    public abstract void CopyIfSkippedFloat64(View<T> control, View<double> source, View<double> destination);

    /// <summary>Copies a float64 view (same length, not overlapping) on the device: how a method's float64 state is saved
    /// before a step (<see cref="CopyIfSkippedFloat64"/> puts it back if the step is skipped).</summary>
    public abstract void CopyFloat64(View<double> source, View<double> destination);
}
