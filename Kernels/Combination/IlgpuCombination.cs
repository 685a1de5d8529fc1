namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void Gram(View<float> vectors, int count, int length, View<float> gram) => throw new NotImplementedException("Ilgpu Gram: not written yet.");

    /// <inheritdoc/>
    public override void LinearCombination(View<float> vectors, int count, int length, View<float> coefficients, View<float> output, bool accumulate) => throw new NotImplementedException("Ilgpu LinearCombination: not written yet.");
}
