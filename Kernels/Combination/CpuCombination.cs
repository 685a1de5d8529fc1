namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void Gram(View<T> vectors, int count, int length, View<T> gram) => throw new NotImplementedException("Cpu Gram: not written yet.");

    /// <inheritdoc/>
    public override void LinearCombination(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate) => throw new NotImplementedException("Cpu LinearCombination: not written yet.");
}
