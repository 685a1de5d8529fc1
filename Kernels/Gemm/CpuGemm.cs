namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void Gemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, View<T> b, T beta, View<T> c, View<T> bias, Activation activation) => throw new NotImplementedException("Cpu Gemm: not written yet.");
}
