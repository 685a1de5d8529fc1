namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void ActivationForward(Activation activation, View<T> x, View<T> y) => throw new NotImplementedException("Cpu ActivationForward: not written yet.");

    /// <inheritdoc/>
    public override void ActivationBackwardFromOutput(Activation activation, View<T> output, View<T> dy, View<T> dx, bool accumulate) => throw new NotImplementedException("Cpu ActivationBackwardFromOutput: not written yet.");

    /// <inheritdoc/>
    public override void ActivationBackwardFromInput(Activation activation, View<T> input, View<T> dy, View<T> dx, bool accumulate) => throw new NotImplementedException("Cpu ActivationBackwardFromInput: not written yet.");

    /// <inheritdoc/>
    public override void Fill(View<T> x, T value) => throw new NotImplementedException("Cpu Fill: not written yet.");

    /// <inheritdoc/>
    public override void Copy(View<T> source, View<T> destination) => throw new NotImplementedException("Cpu Copy: not written yet.");

    /// <inheritdoc/>
    public override void Scale(View<T> x, T alpha) => throw new NotImplementedException("Cpu Scale: not written yet.");

    /// <inheritdoc/>
    public override void Axpy(T alpha, View<T> x, View<T> y) => throw new NotImplementedException("Cpu Axpy: not written yet.");

    /// <inheritdoc/>
    public override void Add(View<T> a, View<T> b, View<T> result) => throw new NotImplementedException("Cpu Add: not written yet.");

    /// <inheritdoc/>
    public override void Multiply(View<T> a, View<T> b, View<T> result, bool accumulate) => throw new NotImplementedException("Cpu Multiply: not written yet.");

    /// <inheritdoc/>
    public override void ScaleByScalar(View<T> x, View<T> scalar, View<T> y, bool accumulate) => throw new NotImplementedException("Cpu ScaleByScalar: not written yet.");
}
