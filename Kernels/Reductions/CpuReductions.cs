namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void ColumnSums(View<T> x, int rows, int cols, View<T> result, bool accumulate) => throw new NotImplementedException("Cpu ColumnSums: not written yet.");

    /// <inheritdoc/>
    public override void Sum(View<T> x, View<T> result, T scale) => throw new NotImplementedException("Cpu Sum: not written yet.");

    /// <inheritdoc/>
    public override void Dot(View<T> a, View<T> b, View<T> result) => throw new NotImplementedException("Cpu Dot: not written yet.");

}
