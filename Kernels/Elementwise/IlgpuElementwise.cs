namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void ActivationForward(Activation activation, View<float> x, View<float> y) => throw new NotImplementedException("Ilgpu ActivationForward: not written yet.");

    /// <inheritdoc/>
    public override void ActivationBackwardFromOutput(Activation activation, View<float> output, View<float> dy, View<float> dx, bool accumulate) => throw new NotImplementedException("Ilgpu ActivationBackwardFromOutput: not written yet.");

    /// <inheritdoc/>
    public override void ActivationBackwardFromInput(Activation activation, View<float> input, View<float> dy, View<float> dx, bool accumulate) => throw new NotImplementedException("Ilgpu ActivationBackwardFromInput: not written yet.");

    /// <inheritdoc/>
    public override void Fill(View<float> x, float value) => throw new NotImplementedException("Ilgpu Fill: not written yet.");

    /// <inheritdoc/>
    public override void Copy(View<float> source, View<float> destination) => throw new NotImplementedException("Ilgpu Copy: not written yet.");

    /// <inheritdoc/>
    public override void Scale(View<float> x, float alpha) => throw new NotImplementedException("Ilgpu Scale: not written yet.");

    /// <inheritdoc/>
    public override void Axpy(float alpha, View<float> x, View<float> y) => throw new NotImplementedException("Ilgpu Axpy: not written yet.");

    /// <inheritdoc/>
    public override void Add(View<float> a, View<float> b, View<float> result) => throw new NotImplementedException("Ilgpu Add: not written yet.");

    /// <inheritdoc/>
    public override void Multiply(View<float> a, View<float> b, View<float> result, bool accumulate) => throw new NotImplementedException("Ilgpu Multiply: not written yet.");

    /// <inheritdoc/>
    public override void ScaleByScalar(View<float> x, View<float> scalar, View<float> y, bool accumulate) => throw new NotImplementedException("Ilgpu ScaleByScalar: not written yet.");
}
