namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <summary>Below this many multiply-adds (m·n·k) a GEMM runs on the calling thread only:
    /// forking costs more than it saves (about 100³).</summary>
    internal const long GemmParallelThreshold = 100L * 100 * 100;

    /// <inheritdoc/>
    /// <remarks>Goto/BLIS-style blocked GEMM; see <see cref="CpuGemmDriver{T}"/> and docs/maths.md §4.</remarks>
    public override unsafe void Gemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, View<T> b, T beta, View<T> c, View<T> bias, Activation activation)
    {
        CheckGemm(m, n, k, a, b, c, bias, activation);
        if (m == 0 || n == 0) return;

        // op(A)[i, p] = A[i·rowStride + p·colStride]: the transposes become strides, handled by packing.
        var opA = new StridedMatrix<T>(a.IsEmpty ? null : a.Pointer(), transA ? 1 : k, transA ? m : 1);
        var opB = new StridedMatrix<T>(b.IsEmpty ? null : b.Pointer(), transB ? 1 : n, transB ? k : 1);
        var problem = new GemmProblem<T>(m, n, k, opA, opB, c.Pointer(), n,
            bias.IsEmpty ? null : bias.Pointer(), alpha, beta, activation);

        if (Threads == 1 || (long)m * n * k < GemmParallelThreshold || k == 0 || alpha == T.Zero)
            CpuGemmDriver<T>.Run(problem);
        else if (m >= 4 * Threads * CpuGemmDriver<T>.MR)
            GemmSharedB(problem);
        else
            GemmColumnSlabs(problem);
    }

    /// <summary>
    /// The usual case (BLIS's choice): for each KC×NC block, the threads pack B̃ together (each a range
    /// of NR panels) into one shared buffer, then take row blocks of C dynamically — each packs its own Ã and
    /// runs the micro-kernels against the shared B̃. Row blocks are sized so there are about four per
    /// thread, which balances the load even when another process steals a core.
    /// </summary>
    private unsafe void GemmSharedB(GemmProblem<T> p)
    {
        int mr = CpuGemmDriver<T>.MR, nr = CpuGemmDriver<T>.NR, kcMax = CpuGemmDriver<T>.KC, ncMax = CpuGemmDriver<T>.NC;
        int rowsPerBlock = Math.Min(CpuGemmDriver<T>.MC, CpuGemmDriver<T>.RoundUp((p.M + 4 * Threads - 1) / (4 * Threads), mr));
        int rowBlocks = (p.M + rowsPerBlock - 1) / rowsPerBlock;
        nint packedB = (nint)CpuGemmDriver<T>.PackedBBuffer(p);
        for (int jc = 0; jc < p.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, p.N - jc);
            int panels = (nc + nr - 1) / nr;
            int panelsPerThread = (panels + Threads - 1) / Threads;
            for (int pc = 0; pc < p.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, p.K - pc);
                Parallel.For(0, Threads, ParallelOptions, t =>
                {
                    int first = t * panelsPerThread, count = Math.Min(panels - first, panelsPerThread);
                    if (count <= 0) return;
                    int j0 = first * nr, cols = Math.Min(nc - j0, count * nr);
                    CpuGemmPacking<T>.PackB(p.B.From(pc, jc + j0), kc, cols, (T*)packedB + (long)j0 * kc);
                });
                Parallel.For(0, rowBlocks, ParallelOptions, block =>
                {
                    int ic = block * rowsPerBlock;
                    CpuGemmDriver<T>.Block(p, jc, nc, pc, kc, ic, Math.Min(rowsPerBlock, p.M - ic), (T*)packedB);
                });
            }
        }
    }

    /// <summary>Few rows (m &lt; 4·threads·MR), many columns: one slab of columns per thread, each running the
    /// whole blocked algorithm with its own buffers (they share only read-only A and B).</summary>
    private void GemmColumnSlabs(GemmProblem<T> p)
    {
        int nr = CpuGemmDriver<T>.NR;
        int tiles = (p.N + nr - 1) / nr;
        int parts = Math.Min(Threads, tiles);
        int tilesPerPart = (tiles + parts - 1) / parts;
        Parallel.For(0, parts, ParallelOptions, part =>
        {
            int start = part * tilesPerPart * nr;
            int length = Math.Min(p.N - start, tilesPerPart * nr);
            if (length > 0) CpuGemmDriver<T>.Run(p.Columns(start, length));
        });
    }
}
