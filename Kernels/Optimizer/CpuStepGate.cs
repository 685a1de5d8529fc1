namespace Engine.Kernels.Cpu;

/// <summary>The gated step-control block on the CPU path (maths: docs/maths.md §19.2).</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void GateStepControl(View<T> control, View<T> labelled, View<T> gated)
    {
        StepGateChecks.Check(this, control, labelled, gated);
        var c = control.Span();
        var g = gated.Span();
        c.CopyTo(g);
        if (labelled.Span()[0] == T.Zero) g[StepControl.Skip] = T.One;
    }

    /// <inheritdoc/>
    /// <remarks>The reference itself: the flag is in host memory on this path, so reading it is no round trip.</remarks>
    public override void CopyIfSkipped(View<T> control, View<T> source, View<T> destination)
    {
        StepGateChecks.CopyIfSkipped(this, control, source, destination);
        if (control.Span()[StepControl.Skip] != T.Zero) source.Span().CopyTo(destination.Span());
    }

    /// <inheritdoc/>
    public override void CopyIfSkippedFloat64(View<T> control, View<double> source, View<double> destination)
    {
        StepGateChecks.CopyIfSkipped(this, control, source, destination);
        if (control.Span()[StepControl.Skip] != T.Zero) source.Span().CopyTo(destination.Span());
    }

    /// <inheritdoc/>
    public override void CopyFloat64(View<double> source, View<double> destination)
    {
        StepGateChecks.Copy(this, source, destination);
        source.Span().CopyTo(destination.Span());
    }
}
