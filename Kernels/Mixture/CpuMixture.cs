using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The mixture-of-experts kernels on the SIMD CPU path. The batched GEMM runs the blocked, packed, multi-threaded GEMM
/// of <c>Kernels/Gemm/</c> once per expert (on a CPU a "launch" costs nothing; each expert's GEMM is large enough to
/// be blocked and split across the cores on its own). The softmax over experts and the mixture are row loops of
/// <see cref="TensorPrimitives"/> calls (max-shifted softmax written out: <c>TensorPrimitives.SoftMax</c> does not
/// subtract the maximum), run over row chunks by <see cref="RunChunks{TJob}"/>.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void BatchedGemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, int strideA,
        View<T> b, int strideB, T beta, View<T> c, int strideC, int count, View<T> bias, int strideBias, Activation activation)
    {
        MixtureChecks.BatchedGemm(this, m, n, k, a, strideA, b, strideB, c, strideC, count, bias, strideBias, activation);
        // k = 0: no operand is read (A and B may be empty views, which cannot be sliced).
        for (int e = 0; e < count; e++)
            Gemm(transA, transB, m, n, k, alpha, k == 0 ? default : a.Slice(e * strideA, m * k), k == 0 ? default : b.Slice(e * strideB, k * n), beta,
                c.Slice(e * strideC, m * n), bias.IsEmpty ? default : bias.Slice(e * strideBias, n), activation);
    }

    /// <inheritdoc/>
    public override unsafe void SoftmaxRows(View<T> x, int rows, int cols, View<T> y)
    {
        MixtureChecks.Softmax(this, x, nameof(x), rows, cols, y, nameof(y));
        RunChunks(new SoftmaxJob { X = x.Pointer(), Y = y.Pointer(), Cols = cols }, rows, cols);
    }

    /// <inheritdoc/>
    public override unsafe void SoftmaxRowsBackward(View<T> y, View<T> dy, int rows, int cols, View<T> dx, bool accumulate)
    {
        MixtureChecks.SoftmaxBackward(this, y, dy, rows, cols, dx);
        RunChunks(new SoftmaxBackwardJob { Y = y.Pointer(), DY = dy.Pointer(), DX = dx.Pointer(), Cols = cols, Accumulate = accumulate }, rows, cols);
    }

    /// <inheritdoc/>
    public override unsafe void Mixture(View<T> x, View<T> g, int experts, int batch, int width, View<T> y)
    {
        MixtureChecks.Mixture(this, x, nameof(x), g, nameof(g), experts, batch, width, y, nameof(y));
        RunChunks(new MixtureJob { X = x.Pointer(), G = g.Pointer(), Y = y.Pointer(), Experts = experts, Batch = batch, Width = width },
            batch, experts * width);
    }

    /// <inheritdoc/>
    public override unsafe void MixtureBackwardExperts(View<T> g, View<T> dy, int experts, int batch, int width, View<T> dx, bool accumulate)
    {
        MixtureChecks.Mixture(this, dx, nameof(dx), g, nameof(g), experts, batch, width, dy, nameof(dy));
        RunChunks(new MixtureBackwardJob { Rows = dx.Pointer(), Gates = g.Pointer(), DY = dy.Pointer(), Experts = experts, Batch = batch, Width = width, Accumulate = accumulate },
            batch, experts * width);
    }

    /// <inheritdoc/>
    public override unsafe void MixtureBackwardGates(View<T> x, View<T> dy, int experts, int batch, int width, View<T> dg, bool accumulate)
    {
        MixtureChecks.Mixture(this, x, nameof(x), dg, nameof(dg), experts, batch, width, dy, nameof(dy));
        if (KernelChecks.PartlyOverlap(dg, x) || dg == x) throw new ArgumentException("dg must not overlap x.", nameof(dg));
        RunChunks(new MixtureBackwardJob { Rows = x.Pointer(), Gates = dg.Pointer(), DY = dy.Pointer(), Experts = experts, Batch = batch, Width = width, ToGates = true, Accumulate = accumulate },
            batch, experts * width);
    }

    /// <summary>Rows [start, start + count): y = exp(x − max)/Σ exp(x − max).</summary>
    private unsafe struct SoftmaxJob : IChunkJob
    {
        public T* X, Y;
        public int Cols;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
            {
                var x = new ReadOnlySpan<T>(X + (long)r * Cols, Cols);
                var y = new Span<T>(Y + (long)r * Cols, Cols);
                T max = TensorPrimitives.Max(x);
                TensorPrimitives.Subtract(x, max, y);
                TensorPrimitives.Exp(y, y);
                TensorPrimitives.Divide(y, TensorPrimitives.Sum<T>(y), y);
            }
            return 0;
        }
    }

    /// <summary>Rows [start, start + count): dx (+)= y ⊙ (dy − ⟨dy, y⟩).</summary>
    private unsafe struct SoftmaxBackwardJob : IChunkJob
    {
        public T* Y, DY, DX;
        public int Cols;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            for (int r = start; r < start + count; r++)
            {
                var y = new ReadOnlySpan<T>(Y + (long)r * Cols, Cols);
                var dy = new ReadOnlySpan<T>(DY + (long)r * Cols, Cols);
                var dx = new Span<T>(DX + (long)r * Cols, Cols);
                T inner = TensorPrimitives.Dot(dy, y);
                if (!Accumulate)
                {
                    TensorPrimitives.Subtract(dy, inner, dx);
                    TensorPrimitives.Multiply(dx, y, dx);
                }
                else
                    for (int j = 0; j < Cols; j++) dx[j] = T.FusedMultiplyAdd(y[j], dy[j] - inner, dx[j]);
            }
            return 0;
        }
    }

    /// <summary>Rows b of [start, start + count): y[b] = Σₑ g[b, e]·x[e, b] (expert e's row b).</summary>
    private unsafe struct MixtureJob : IChunkJob
    {
        public T* X, G, Y;
        public int Experts, Batch, Width;

        public readonly double Run(int start, int count)
        {
            for (int b = start; b < start + count; b++)
            {
                var y = new Span<T>(Y + (long)b * Width, Width);
                for (int e = 0; e < Experts; e++)
                {
                    var x = new ReadOnlySpan<T>(X + ((long)e * Batch + b) * Width, Width);
                    T g = G[(long)b * Experts + e];
                    if (e == 0) TensorPrimitives.Multiply(x, g, y);
                    else TensorPrimitives.FusedMultiplyAdd(x, g, y, y);
                }
            }
            return 0;
        }
    }

    /// <summary>Rows b of [start, start + count), dy[b] against every expert e's row: to the experts (<see cref="ToGates"/>
    /// false) dx[e, b] (+)= g[b, e]·dy[b], with Rows = dx and Gates = g; to the gates dg[b, e] (+)= ⟨dy[b], x[e, b]⟩, with
    /// Rows = x and Gates = dg.</summary>
    private unsafe struct MixtureBackwardJob : IChunkJob
    {
        public T* Rows, Gates, DY;
        public int Experts, Batch, Width;
        public bool ToGates, Accumulate;

        public readonly double Run(int start, int count)
        {
            for (int b = start; b < start + count; b++)
            {
                var dy = new ReadOnlySpan<T>(DY + (long)b * Width, Width);
                for (int e = 0; e < Experts; e++)
                {
                    var row = new Span<T>(Rows + ((long)e * Batch + b) * Width, Width);
                    ref T gate = ref Gates[(long)b * Experts + e];
                    if (ToGates)
                    {
                        T d = TensorPrimitives.Dot(dy, row);
                        gate = Accumulate ? gate + d : d;
                    }
                    else if (Accumulate) TensorPrimitives.FusedMultiplyAdd(dy, gate, row, row);
                    else TensorPrimitives.Multiply(dy, gate, row);
                }
            }
            return 0;
        }
    }
}
