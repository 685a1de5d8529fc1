using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The mixture-of-experts kernels on ILGPU. The batched GEMM over the experts is the dense GEMM's own kernels with a
/// third grid dimension, one z per expert (<c>Kernels/Gemm/</c>: the warp-tiled SGEMM where the strides keep the
/// 16-byte alignment); the softmax over a handful of experts and the gated mixture are implicitly grouped, one thread
/// per output element (per row for the softmax).
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, int>? _softmaxRows;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int>? _softmaxRowsBackward;
    private Action<AcceleratorStream, Index2D, Dense, Dense, Dense, int, int, int>? _mixture;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int, int>? _mixtureExperts;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int, int>? _mixtureGates;

    /// <inheritdoc/>
    /// <remarks>One launch of the dense GEMM's kernels with grid z = problem (<see cref="LaunchGemm"/>): the warp-tiled
    /// <see cref="IlgpuSgemmKernel"/> when the shape, the offsets and the strides keep every problem 16-byte aligned
    /// (multiples of 4 floats), else the general <see cref="IlgpuGemmKernel"/>.</remarks>
    public override void BatchedGemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, int strideA,
        View<float> b, int strideB, float beta, View<float> c, int strideC, int count, View<float> bias, int strideBias, Activation activation)
    {
        MixtureChecks.BatchedGemm(this, m, n, k, a, strideA, b, strideB, c, strideC, count, bias, strideBias, activation);
        if (m == 0 || n == 0) return;
        LaunchGemm(transA, transB, m, n, k, alpha, a, strideA, b, strideB, beta, c, strideC, count, bias, strideBias, activation);
    }

    /// <inheritdoc/>
    public override void SoftmaxRows(View<float> x, int rows, int cols, View<float> y)
    {
        MixtureChecks.Softmax(this, x, nameof(x), rows, cols, y, nameof(y));
        _softmaxRows ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, int>(SoftmaxRowsKernel);
        _softmaxRows(Launched(), rows, x.Ilgpu(), y.Ilgpu(), cols);
    }

    /// <inheritdoc/>
    public override void SoftmaxRowsBackward(View<float> y, View<float> dy, int rows, int cols, View<float> dx, bool accumulate)
    {
        MixtureChecks.SoftmaxBackward(this, y, dy, rows, cols, dx);
        _softmaxRowsBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, int>(SoftmaxRowsBackwardKernel);
        _softmaxRowsBackward(Launched(), rows, y.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), cols, accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void Mixture(View<float> x, View<float> g, int experts, int batch, int width, View<float> y)
    {
        MixtureChecks.Mixture(this, x, nameof(x), g, nameof(g), experts, batch, width, y, nameof(y));
        _mixture ??= Accelerator.LoadAutoGroupedKernel<Index2D, Dense, Dense, Dense, int, int, int>(MixtureKernel);
        _mixture(Launched(), new Index2D(width, batch), x.Ilgpu(), g.Ilgpu(), y.Ilgpu(), experts, batch, width);
    }

    /// <inheritdoc/>
    public override void MixtureBackwardExperts(View<float> g, View<float> dy, int experts, int batch, int width, View<float> dx, bool accumulate)
    {
        MixtureChecks.Mixture(this, dx, nameof(dx), g, nameof(g), experts, batch, width, dy, nameof(dy));
        _mixtureExperts ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, int, int, int>(MixtureExpertsKernel);
        _mixtureExperts(Launched(), dx.Length, g.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), experts, batch, width, accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void MixtureBackwardGates(View<float> x, View<float> dy, int experts, int batch, int width, View<float> dg, bool accumulate)
    {
        MixtureChecks.Mixture(this, x, nameof(x), dg, nameof(dg), experts, batch, width, dy, nameof(dy));
        if (KernelChecks.PartlyOverlap(dg, x) || dg == x) throw new ArgumentException("dg must not overlap x.", nameof(dg));
        _mixtureGates ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, int, int, int>(MixtureGatesKernel);
        _mixtureGates(Launched(), dg.Length, x.Ilgpu(), dy.Ilgpu(), dg.Ilgpu(), experts, batch, width, accumulate ? 1 : 0);
    }

    /// <summary>Row r: y = exp(x − max)/Σ exp(x − max).</summary>
    internal static void SoftmaxRowsKernel(Index1D r, Dense x, Dense y, int cols)
    {
        int row = r * cols;
        float max = x[row];
        for (int j = 1; j < cols; j++) max = x[row + j] > max ? x[row + j] : max;
        float sum = 0;
        for (int j = 0; j < cols; j++)
        {
            float v = XMath.Exp(x[row + j] - max);
            y[row + j] = v;
            sum += v;
        }
        float inverse = 1f / sum;
        for (int j = 0; j < cols; j++) y[row + j] *= inverse;
    }

    /// <summary>Row r: dx (+)= y ⊙ (dy − ⟨dy, y⟩).</summary>
    internal static void SoftmaxRowsBackwardKernel(Index1D r, Dense y, Dense dy, Dense dx, int cols, int accumulate)
    {
        int row = r * cols;
        float inner = 0;
        for (int j = 0; j < cols; j++) inner += dy[row + j] * y[row + j];
        for (int j = 0; j < cols; j++)
        {
            float d = y[row + j] * (dy[row + j] - inner);
            dx[row + j] = accumulate != 0 ? dx[row + j] + d : d;
        }
    }

    /// <summary>Thread (h, b): y[b, h] = Σₑ g[b, e]·x[e, b, h].</summary>
    internal static void MixtureKernel(Index2D index, Dense x, Dense g, Dense y, int experts, int batch, int width)
    {
        int h = index.X, b = index.Y;
        float sum = 0;
        for (int e = 0; e < experts; e++) sum += g[b * experts + e] * x[(e * batch + b) * width + h];
        y[b * width + h] = sum;
    }

    /// <summary>Element i = (e, b, h) of dx: dx (+)= g[b, e]·dy[b, h].</summary>
    internal static void MixtureExpertsKernel(Index1D i, Dense g, Dense dy, Dense dx, int experts, int batch, int width, int accumulate)
    {
        int h = i % width, eb = i / width, b = eb % batch, e = eb / batch;
        float d = g[b * experts + e] * dy[b * width + h];
        dx[i] = accumulate != 0 ? dx[i] + d : d;
    }

    /// <summary>Element i = (b, e) of dg: dg (+)= Σₕ dy[b, h]·x[e, b, h].</summary>
    internal static void MixtureGatesKernel(Index1D i, Dense x, Dense dy, Dense dg, int experts, int batch, int width, int accumulate)
    {
        int b = i / experts, e = i % experts;
        float sum = 0;
        for (int h = 0; h < width; h++) sum += dy[b * width + h] * x[(e * batch + b) * width + h];
        dg[i] = accumulate != 0 ? dg[i] + sum : sum;
    }
}
