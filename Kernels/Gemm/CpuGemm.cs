namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <summary>Below this many multiply-adds (m·n·k) a GEMM runs on the calling thread only:
    /// forking costs more than it saves (about 100³).</summary>
    internal const long GemmParallelThreshold = 100L * 100 * 100;

    /// <inheritdoc/>
    /// <remarks>Goto/BLIS-style blocked GEMM; see <see cref="CpuGemmDriver{T}"/> and docs/maths-parts/10-gemm.md.</remarks>
    public override unsafe void Gemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, View<T> b, T beta, View<T> c, View<T> bias, Activation activation)
    {
        CheckGemm(m, n, k, a, b, c, bias, activation);
        if (m == 0 || n == 0) return;

        // op(A)[i, p] = A[i·rowStride + p·colStride]: the transposes become strides, handled by packing.
        var opA = new StridedMatrix<T>(a.IsEmpty ? null : a.Pointer(), transA ? 1 : k, transA ? m : 1);
        var opB = new StridedMatrix<T>(b.IsEmpty ? null : b.Pointer(), transB ? 1 : n, transB ? k : 1);
        var problem = new GemmProblem<T>(m, n, k, opA, opB, c.Pointer(), n,
            bias.IsEmpty ? null : bias.Pointer(), alpha, beta, activation);

        if (Threads == 1 || (long)m * n * k < GemmParallelThreshold)
        {
            CpuGemmDriver<T>.Run(problem);
            return;
        }
        // Split C into one slab per thread along its longer side (rounded to whole micro-tiles), so the
        // threads share nothing but read-only A and B: each packs its own panels, no locks, no false sharing.
        bool splitRows = m > n;
        int tile = splitRows ? CpuGemmDriver<T>.MR : CpuGemmDriver<T>.NR;
        int extent = splitRows ? m : n;
        int tiles = (extent + tile - 1) / tile;
        int parts = Math.Min(Threads, tiles);
        int tilesPerPart = (tiles + parts - 1) / parts;
        Parallel.For(0, parts, ParallelOptions, part =>
        {
            int start = part * tilesPerPart * tile;
            int length = Math.Min(extent - start, tilesPerPart * tile);
            if (length > 0) CpuGemmDriver<T>.Run(splitRows ? problem.Rows(start, length) : problem.Columns(start, length));
        });
    }
}
