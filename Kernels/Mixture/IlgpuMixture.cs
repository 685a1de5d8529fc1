using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The mixture-of-experts kernels on ILGPU, implicitly grouped, one thread per output element (per row for the
/// softmax over a handful of experts). The batched GEMM is one launch over a 3-D grid (column, row, expert) with
/// the epilogue of the dense GEMM (<see cref="Activate"/>, the project's activations). It is the straightforward
/// kernel — no shared-memory tiles or register blocking (those are in <c>Kernels/Gemm/IlgpuGemmKernel.cs</c>, for
/// one matrix): correct on every accelerator, and the place to start for a tiled batched variant.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>The batched GEMM's shape, strides and epilogue (one uniform argument).</summary>
    public readonly struct BatchedGemmArguments(int m, int n, int k, bool transA, bool transB, float alpha, float beta,
        int strideA, int strideB, int strideC, int strideBias, bool hasBias, Activation activation)
    {
        /// <summary>Rows of C.</summary>
        public readonly int M = m;
        /// <summary>Columns of C.</summary>
        public readonly int N = n;
        /// <summary>Inner dimension.</summary>
        public readonly int K = k;
        /// <summary>1 when A is stored k×m.</summary>
        public readonly int TransA = transA ? 1 : 0;
        /// <summary>1 when B is stored n×k.</summary>
        public readonly int TransB = transB ? 1 : 0;
        /// <summary>α.</summary>
        public readonly float Alpha = alpha;
        /// <summary>β (0: C not read).</summary>
        public readonly float Beta = beta;
        /// <summary>Element strides between consecutive problems.</summary>
        public readonly int StrideA = strideA, StrideB = strideB, StrideC = strideC, StrideBias = strideBias;
        /// <summary>1 when a bias is added.</summary>
        public readonly int HasBias = hasBias ? 1 : 0;
        /// <summary>The activation's integer value.</summary>
        public readonly int Activation = (int)activation;
    }

    private Action<AcceleratorStream, Index3D, Dense, Dense, Dense, Dense, BatchedGemmArguments>? _batchedGemm;
    private Action<AcceleratorStream, Index1D, Dense, Dense, int>? _softmaxRows;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int>? _softmaxRowsBackward;
    private Action<AcceleratorStream, Index2D, Dense, Dense, Dense, int, int, int>? _mixture;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int, int>? _mixtureExperts;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int, int>? _mixtureGates;

    /// <inheritdoc/>
    public override void BatchedGemm(bool transA, bool transB, int m, int n, int k, float alpha, View<float> a, int strideA,
        View<float> b, int strideB, float beta, View<float> c, int strideC, int count, View<float> bias, int strideBias, Activation activation)
    {
        MixtureChecks.BatchedGemm(this, m, n, k, a, strideA, b, strideB, c, strideC, count, bias, strideBias, activation);
        if (m == 0 || n == 0) return;
        _batchedGemm ??= Accelerator.LoadAutoGroupedKernel<Index3D, Dense, Dense, Dense, Dense, BatchedGemmArguments>(BatchedGemmKernel);
        var args = new BatchedGemmArguments(m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC, strideBias, !bias.IsEmpty, activation);
        // Empty operands (k = 0, no bias) are never read: pass C as a harmless stand-in.
        var aView = k == 0 ? c : a;
        var bView = k == 0 ? c : b;
        _batchedGemm(Launched(), new Index3D(n, m, count), aView.Ilgpu(), bView.Ilgpu(), c.Ilgpu(), (bias.IsEmpty ? c : bias).Ilgpu(), args);
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

    /// <summary>C[e][i, j] = act(α·Σₚ op(A)[e][i, p]·op(B)[e][p, j] + β·C[e][i, j] + bias[e][j]); thread (j, i, e).</summary>
    internal static void BatchedGemmKernel(Index3D index, Dense a, Dense b, Dense c, Dense bias, BatchedGemmArguments args)
    {
        int j = index.X, i = index.Y, e = index.Z;
        int offA = e * args.StrideA, offB = e * args.StrideB;
        float sum = 0;
        for (int p = 0; p < args.K; p++)
        {
            float av = args.TransA != 0 ? a[offA + p * args.M + i] : a[offA + i * args.K + p];
            float bv = args.TransB != 0 ? b[offB + j * args.K + p] : b[offB + p * args.N + j];
            sum += av * bv;
        }
        int at = e * args.StrideC + i * args.N + j;
        float v = args.Alpha * sum;
        if (args.Beta != 0) v += args.Beta * c[at];
        if (args.HasBias != 0) v += bias[e * args.StrideBias + j];
        c[at] = Activate(args.Activation, v);
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
