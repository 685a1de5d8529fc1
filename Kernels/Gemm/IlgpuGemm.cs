namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, View<float> b, float beta, View<float> c, View<float> bias, Activation activation) => throw new NotImplementedException("Ilgpu Gemm: not written yet.");
}
