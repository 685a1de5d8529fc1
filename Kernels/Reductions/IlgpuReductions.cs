namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void ColumnSums(View<float> x, int rows, int cols, View<float> result, bool accumulate) => throw new NotImplementedException("Ilgpu ColumnSums: not written yet.");

    /// <inheritdoc/>
    public override void Sum(View<float> x, View<float> result, float scale) => throw new NotImplementedException("Ilgpu Sum: not written yet.");

    /// <inheritdoc/>
    public override void Dot(View<float> a, View<float> b, View<float> result) => throw new NotImplementedException("Ilgpu Dot: not written yet.");

}
