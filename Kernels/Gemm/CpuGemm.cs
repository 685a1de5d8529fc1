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
        else if (m >= 4 * Threads * CpuGemmDriver<T>.MR && m >= n)   // tall or square: split the rows
            GemmSharedB(problem);
        else
            GemmColumnSlabs(problem);
    }

    /// <summary>
    /// Tall or square C (m ≥ n, BLIS's choice): for each KC×NC block, the threads pack B̃ together (each a range
    /// of NR panels) into one shared buffer, then take row blocks of C dynamically — each packs its own Ã and
    /// runs the micro-kernels against the shared B̃. Row blocks are sized so there are about four per
    /// thread, which balances the load even when another process steals a core.
    /// </summary>
    private unsafe void GemmSharedB(GemmProblem<T> p)
    {
        int mr = CpuGemmDriver<T>.MR, nr = CpuGemmDriver<T>.NR, kcMax = CpuGemmDriver<T>.KC, ncMax = CpuGemmDriver<T>.NC;
        int rowsPerBlock = Math.Min(CpuGemmDriver<T>.MC, CpuGemmDriver<T>.RoundUp((p.M + 4 * Threads - 1) / (4 * Threads), mr));
        int rowBlocks = (p.M + rowsPerBlock - 1) / rowsPerBlock;
        PrepareScratch(CpuGemmDriver<T>.PackedALength(p, rowsPerBlock), 0);
        nint packedB = (nint)CpuGemmDriver<T>.PackedBBuffer(p);
        for (int jc = 0; jc < p.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, p.N - jc);
            int panels = (nc + nr - 1) / nr;
            int panelsPerThread = (panels + Threads - 1) / Threads;
            for (int pc = 0; pc < p.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, p.K - pc);
                var pack = t_packB ??= new PackBWork();
                (pack.Problem, pack.Jc, pack.Nc, pack.Pc, pack.Kc, pack.PanelsPerThread, pack.Panels) = (p, jc, nc, pc, kc, panelsPerThread, panels);
                pack.PackedB = (T*)packedB;
                Workers.Run(pack, Threads);
                var rows = t_rowBlocks ??= new RowBlockWork();
                (rows.Problem, rows.Jc, rows.Nc, rows.Pc, rows.Kc, rows.RowsPerBlock) = (p, jc, nc, pc, kc, rowsPerBlock);
                rows.PackedB = (T*)packedB;
                Workers.Run(rows, rowBlocks);
            }
        }
    }

    /// <summary>Wide C (m &lt; n) or few rows (m &lt; 4·threads·MR): one slab of columns per thread, each running the
    /// whole blocked algorithm with its own buffers (they share only read-only A and B). For a dense layer's forward
    /// pass and input gradient (m = batch 512, n = 2048) this measured ≈ 130 GFLOP/s against ≈ 93 for shared-B̃ row
    /// blocks on two Zen 3 cores (interleaved runs; Bench/README.md): with 66-row blocks each B̃ micro-panel served
    /// too few micro-tiles, and the two threads met at a barrier after every KC block.</summary>
    private void GemmColumnSlabs(GemmProblem<T> p)
    {
        int nr = CpuGemmDriver<T>.NR;
        int tiles = (p.N + nr - 1) / nr;
        int parts = Math.Min(Threads, tiles);
        int tilesPerPart = (tiles + parts - 1) / parts;
        var work = t_columnSlabs ??= new ColumnSlabWork();
        (work.Problem, work.Width) = (p, tilesPerPart * nr);
        PrepareScratch(CpuGemmDriver<T>.PackedALength(p, CpuGemmDriver<T>.MC), CpuGemmDriver<T>.PackedBLength(p, work.Width));
        Workers.Run(work, parts);
    }

    // What every helper thread's packing buffers are known to hold (they only grow). Racy across concurrent callers of one
    // backend at worst in the direction of one more, harmless, preparation run.
    private int _helpersPackedA, _helpersPackedB;

    /// <summary>
    /// Grows the packing buffers of every thread that may run an item of the next parallel GEMM — the caller's and each
    /// helper's — to what its largest item asks for, before the items are handed out. Which thread takes which item is
    /// left to scheduling (a helper may drain every item of a run before the caller gets one); sizing the buffers per item
    /// made the first GEMM a thread happened to take allocate, at any later step (the flaky allocation test). Now a
    /// thread's buffers depend only on the shapes of the GEMMs run so far, so a warm step allocates nothing on any thread.
    /// </summary>
    private void PrepareScratch(int packedA, int packedB)
    {
        CpuGemmDriver<T>.EnsureScratch(packedA, packedB);
        if (packedA <= _helpersPackedA && packedB <= _helpersPackedB) return;
        var prepare = t_prepare ??= new PrepareScratchWork();
        (prepare.PackedA, prepare.PackedB) = (Math.Max(packedA, _helpersPackedA), Math.Max(packedB, _helpersPackedB));
        if (Workers.RunOnEveryThread(prepare)) (_helpersPackedA, _helpersPackedB) = (prepare.PackedA, prepare.PackedB);
    }

    [ThreadStatic] private static PrepareScratchWork? t_prepare;

    /// <summary>Every item grows its thread's packing buffers (<see cref="CpuWorkers.RunOnEveryThread"/>).</summary>
    private sealed class PrepareScratchWork : ParallelWork
    {
        public int PackedA, PackedB;
        public override void Execute(int item) => CpuGemmDriver<T>.EnsureScratch(PackedA, PackedB);
    }

    // The parallel GEMM's work items, one reusable object per calling thread for each kind (no allocation per call).
    [ThreadStatic] private static PackBWork? t_packB;
    [ThreadStatic] private static RowBlockWork? t_rowBlocks;
    [ThreadStatic] private static ColumnSlabWork? t_columnSlabs;

    /// <summary>Item t packs thread t's share of the NR panels of the KC×NC block into the shared B̃.</summary>
    private sealed unsafe class PackBWork : ParallelWork
    {
        public GemmProblem<T> Problem;
        public int Jc, Nc, Pc, Kc, PanelsPerThread, Panels;
        public T* PackedB;

        public override void Execute(int item)
        {
            int nr = CpuGemmDriver<T>.NR;
            int first = item * PanelsPerThread, count = Math.Min(Panels - first, PanelsPerThread);
            if (count <= 0) return;
            int j0 = first * nr, cols = Math.Min(Nc - j0, count * nr);
            CpuGemmPacking<T>.PackB(Problem.B.From(Pc, Jc + j0), Kc, cols, PackedB + (long)j0 * Kc);
        }
    }

    /// <summary>Item b computes row block b of C against the shared B̃ (packing its own Ã).</summary>
    private sealed unsafe class RowBlockWork : ParallelWork
    {
        public GemmProblem<T> Problem;
        public int Jc, Nc, Pc, Kc, RowsPerBlock;
        public T* PackedB;

        public override void Execute(int item)
        {
            int ic = item * RowsPerBlock;
            CpuGemmDriver<T>.Block(Problem, Jc, Nc, Pc, Kc, ic, Math.Min(RowsPerBlock, Problem.M - ic), PackedB);
        }
    }

    /// <summary>Item i runs the whole blocked GEMM on column slab i of C (Width columns).</summary>
    private sealed class ColumnSlabWork : ParallelWork
    {
        public GemmProblem<T> Problem;
        public int Width;

        public override void Execute(int item)
        {
            int start = item * Width;
            int length = Math.Min(Problem.N - start, Width);
            if (length > 0) CpuGemmDriver<T>.Run(Problem.Columns(start, length));
        }
    }
}
