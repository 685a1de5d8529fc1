using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using Dense = ArrayView1D<float, Stride1D.Dense>;

public sealed partial class IlgpuBackend
{
    private Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuGemmKernel.Arguments>? _gemm;

    /// <summary>The 16 compiled SGEMMs (transA, transB, activation), each loaded on first use.</summary>
    private readonly Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments>?[] _sgemm = new Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments>?[16];

    /// <inheritdoc/>
    /// <remarks>One launch: <see cref="IlgpuSgemmKernel"/> (warp-tiled, 128-bit loads, double-buffered; one compiled kernel
    /// per transpose pair and activation) when <see cref="CanUseSgemm"/> holds, else the general
    /// <see cref="IlgpuGemmKernel"/> (scalar loads, any shape and offset).</remarks>
    public override void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, View<float> b, float beta, View<float> c, View<float> bias, Activation activation)
    {
        CheckGemm(m, n, k, a, b, c, bias, activation);
        if (m == 0 || n == 0) return;
        LaunchGemm(transA, transB, m, n, k, alpha, a, 0, b, 0, beta, c, 0, 1, bias, 0, activation);
    }

    /// <summary>
    /// <paramref name="problems"/> GEMMs of one shape in one launch, problem e at the element offsets e·stride of each
    /// operand (grid z = problem): the fast <see cref="IlgpuSgemmKernel"/> when <see cref="CanUseSgemm"/> holds and every
    /// stride is a multiple of 4 floats (each problem then keeps the 16-byte alignment), else the general
    /// <see cref="IlgpuGemmKernel"/>. Arguments are checked by the caller; m, n &gt; 0. The launch is counted under
    /// <paramref name="operation"/>, the caller's name.
    /// </summary>
    internal void LaunchGemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, int strideA, View<float> b, int strideB,
        float beta, View<float> c, int strideC, int problems, View<float> bias, int strideBias, Activation activation,
        [System.Runtime.CompilerServices.CallerMemberName] string operation = "")
    {
        if (problems == 1) strideA = strideB = strideC = strideBias = 0; // one problem: its strides are never used
        var cView = c.Ilgpu();
        // LoadStreamKernel binds the accelerator's default stream, which is this backend's Stream.
        // Empty operands (k = 0, or no bias) are never read by the kernels; C stands in for them.
        bool noInner = k == 0;
        var aView = noInner || a.IsEmpty ? cView : a.Ilgpu();
        var bView = noInner || b.IsEmpty ? cView : b.Ilgpu();
        var biasView = bias.IsEmpty ? cView : bias.Ilgpu();
        if (CanUseSgemm(transA, transB, m, n, k, noInner ? default : a, noInner ? default : b, c, bias) &&
            ((strideA | strideB | strideC | strideBias) & 3) == 0)
        {
            var args = new IlgpuSgemmKernel.Arguments(m, n, k, alpha, beta, !bias.IsEmpty, strideA, strideB, strideC, strideBias);
            Launched(operation); // counted under the caller's name: Gemm or BatchedGemm
            Sgemm(transA, transB, activation)(IlgpuSgemmKernel.Config(m, n, problems), aView, bView, cView, biasView, args);
            return;
        }
        _gemm ??= Accelerator.LoadStreamKernel<Dense, Dense, Dense, Dense, IlgpuGemmKernel.Arguments>(IlgpuGemmKernel.Run);
        var general = new IlgpuGemmKernel.Arguments(m, n, k, transA, transB, alpha, beta, !bias.IsEmpty, activation, strideA, strideB, strideC, strideBias);
        Launched(operation);
        _gemm(IlgpuGemmKernel.Config(m, n, problems), aView, bView, cView, biasView, general);
    }

    /// <summary>
    /// The fast SGEMM reads and writes 4 floats at a time, so every 128-bit access must be whole and 16-byte aligned:
    /// C's rows (n) and the direction each operand is read in come in multiples of 4 floats (A: k when not transposed,
    /// m when transposed; B: n when not transposed, k when transposed), and every view starts at a multiple of 4 floats
    /// (device allocations themselves are 256-byte aligned). Dense layers with widths and batch sizes that are multiples
    /// of 4 qualify; the rest (e.g. a 1-output head, n = 1) take the general kernel.
    /// </summary>
    internal static bool CanUseSgemm(bool transA, bool transB, int m, int n, int k, View<float> a, View<float> b, View<float> c, View<float> bias) =>
        n % 4 == 0 && (transA ? m % 4 == 0 : k % 4 == 0) && (!transB || k % 4 == 0) &&
        c.Offset % 4 == 0 && (a.IsEmpty || a.Offset % 4 == 0) && (b.IsEmpty || b.Offset % 4 == 0) && (bias.IsEmpty || bias.Offset % 4 == 0);

    /// <summary>256 threads, two groups per SM (≤ 128 registers), as the kernel's <see cref="LaunchGroupSizeAttribute"/> says.</summary>
    private static readonly KernelSpecialization s_sgemmSpecialization = new(IlgpuSgemmKernel.Threads, IlgpuSgemmKernel.MinGroupsPerSm);

    private Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments> Sgemm(bool transA, bool transB, Activation activation)
    {
        int slot = (transA ? 8 : 0) + (transB ? 4 : 0) + (int)activation;
        return _sgemm[slot] ??= (transA, transB) switch
        {
            (false, false) => LoadSgemm<KContiguous, TileContiguous>(activation),
            (false, true) => LoadSgemm<KContiguous, KContiguous>(activation),
            (true, false) => LoadSgemm<TileContiguous, TileContiguous>(activation),
            (true, true) => LoadSgemm<TileContiguous, KContiguous>(activation),
        };
    }

    private Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments> LoadSgemm<TA, TB>(Activation activation)
        where TA : struct, ISgemmLayout where TB : struct, ISgemmLayout => activation switch
    {
        Activation.Relu => LoadSgemm<TA, TB, ReluEpilogue>(),
        Activation.Tanh => LoadSgemm<TA, TB, TanhEpilogue>(),
        Activation.Sigmoid => LoadSgemm<TA, TB, SigmoidEpilogue>(),
        _ => LoadSgemm<TA, TB, IdentityEpilogue>(),
    };

    private Action<KernelConfig, Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments> LoadSgemm<TA, TB, TAct>()
        where TA : struct, ISgemmLayout where TB : struct, ISgemmLayout where TAct : struct, ISgemmActivation =>
        Accelerator.LoadStreamKernel<Dense, Dense, Dense, Dense, IlgpuSgemmKernel.Arguments>(IlgpuSgemmKernel.Run<TA, TB, TAct>, s_sgemmSpecialization);
}
