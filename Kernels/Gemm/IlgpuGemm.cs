using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    private Action<KernelConfig, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, IlgpuGemmKernel.Arguments>? _gemm;

    /// <inheritdoc/>
    /// <remarks>One launch of <see cref="IlgpuGemmKernel.Run"/>: a group of 16×16 threads per 128×128 tile of C, 8×8 outputs per thread.</remarks>
    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, View<float> b, float beta, View<float> c, View<float> bias, Activation activation)
    {
        CheckGemm(m, n, k, a, b, c, bias, activation);
        if (m == 0 || n == 0) return;
        _gemm ??= Accelerator.LoadStreamKernel<ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, IlgpuGemmKernel.Arguments>(IlgpuGemmKernel.Run);

        var cView = c.Ilgpu();
        // LoadStreamKernel binds the accelerator's default stream, which is this backend's Stream.
        // Empty operands (k = 0, or no bias) are never read by the kernel; C stands in for them.
        var aView = a.IsEmpty ? cView : a.Ilgpu();
        var bView = b.IsEmpty ? cView : b.Ilgpu();
        var biasView = bias.IsEmpty ? cView : bias.Ilgpu();
        var args = new IlgpuGemmKernel.Arguments(m, n, k, transA, transB, alpha, beta, !bias.IsEmpty, activation);
        _gemm(IlgpuGemmKernel.Config(m, n), aView, bView, cView, biasView, args);
    }
}
