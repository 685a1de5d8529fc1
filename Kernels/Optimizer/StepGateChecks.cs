namespace Engine.Kernels;

/// <summary>Checks of <see cref="Backend{T}.GateStepControl"/>, shared by both backends.</summary>
internal static class StepGateChecks
{
    public static void Check<T>(Backend backend, View<T> control, View<T> labelled, View<T> gated) where T : unmanaged
    {
        Kernels.Check.Owned(backend, control, nameof(control));
        Kernels.Check.Length(control, StepControl.Length, nameof(control));
        KernelChecks.Scalar(backend, labelled, nameof(labelled));
        Kernels.Check.Owned(backend, gated, nameof(gated));
        Kernels.Check.Length(gated, StepControl.Length, nameof(gated));
        if (ReferenceEquals(control.Buffer, gated.Buffer) && control.Offset < gated.Offset + gated.Length && gated.Offset < control.Offset + control.Length)
            throw new ArgumentException("gated must not overlap control.", nameof(gated));
    }

    public static void CopyIfSkipped<TControl, T>(Backend backend, View<TControl> control, View<T> source, View<T> destination)
        where TControl : unmanaged where T : unmanaged
    {
        Kernels.Check.Owned(backend, control, nameof(control));
        Kernels.Check.Length(control, StepControl.Length, nameof(control));
        Kernels.Check.Owned(backend, source, nameof(source));
        Kernels.Check.Owned(backend, destination, nameof(destination));
        Kernels.Check.SameLength(source, nameof(source), destination, nameof(destination));
        if (KernelChecks.PartlyOverlap(source, destination) || (source == destination && source.Length > 0))
            throw new ArgumentException("destination must not overlap source.", nameof(destination));
        if (typeof(TControl) == typeof(T) && ReferenceEquals(control.Buffer, destination.Buffer)
            && control.Offset < destination.Offset + destination.Length && destination.Offset < control.Offset + control.Length)
            throw new ArgumentException("destination must not overlap control.", nameof(destination));
    }

    public static void Copy<T>(Backend backend, View<T> source, View<T> destination) where T : unmanaged
    {
        Kernels.Check.Owned(backend, source, nameof(source));
        Kernels.Check.Owned(backend, destination, nameof(destination));
        Kernels.Check.SameLength(source, nameof(source), destination, nameof(destination));
        if (KernelChecks.PartlyOverlap(source, destination) || (source == destination && source.Length > 0))
            throw new ArgumentException("destination must not overlap source.", nameof(destination));
    }
}
