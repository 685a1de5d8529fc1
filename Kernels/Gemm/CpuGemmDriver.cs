using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The single-threaded blocked GEMM (Goto &amp; van de Geijn; BLIS's five loops around a micro-kernel):
/// <code>
/// for jc in n by NC:                 B̃ = pack op(B)[pc.., jc..]  (KC×NC, lives in L3)
///   for pc in k by KC:
///     for ic in m by MC:             Ã = pack op(A)[ic.., pc..]  (MC×KC, lives in L2)
///       for jr in NC by NR:          one NR-wide micro-panel of B̃ (KC×NR, lives in L1)
///         for ir in MC by MR:        micro-kernel: MR×NR tile of C += Ã panel · B̃ panel
/// </code>
/// Packing copies each operand, whatever its transpose, into the order the micro-kernel streams, so one
/// micro-kernel serves NN, NT, TN and TT. The epilogue (alpha, beta, bias, activation) is applied as each
/// tile of C is written: beta on the first k-block, bias and activation on the last.
/// </summary>
internal static unsafe class CpuGemmDriver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Micro-tile rows: 6 rows × 2 vectors = 12 accumulators, +2 for B, +1 for the A broadcast = 15 of 16 ymm.</summary>
    public const int MR = 6;
    /// <summary>Micro-tile columns: two vectors — 512-bit ones (32 floats, 16 doubles) where the CPU has AVX-512,
    /// else 256-bit ones (16 floats, 8 doubles). See <see cref="UseVector512"/>.</summary>
    public static int NR => UseVector512 ? 2 * Vector512<T>.Count : 2 * Vector256<T>.Count;
    /// <summary>Largest NR of either micro-kernel (sizes the edge-tile scratch).</summary>
    public const int MaxNR = 32;

    /// <summary>
    /// Which micro-kernel runs: <see cref="CpuGemmMicroKernel512{T}"/> when 512-bit vectors are hardware-accelerated
    /// (AVX-512), else <see cref="CpuGemmMicroKernel{T}"/>. Settable so tests can run the 512-bit kernel on machines
    /// without AVX-512 (.NET then emulates Vector512 with two 256-bit halves: correct, not fast). Change it only
    /// while no GEMM is running.
    /// </summary>
    internal static bool UseVector512 { get; set; } = Vector512.IsHardwareAccelerated;
    /// <summary>Depth of a k-block: a KC×NR panel of B̃ (16 KiB for float) stays in L1 across the ir loop.</summary>
    public const int KC = 256;
    /// <summary>Rows of a block of Ã: MC×KC elements (144 KiB) fit Zen3's 512 KiB L2 with room for B̃ panels.</summary>
    public static int MC => Unsafe.SizeOf<T>() == 4 ? 144 : 72;
    /// <summary>Columns of B̃: KC×NC elements (4 MiB) sit in L3.</summary>
    public static int NC => Unsafe.SizeOf<T>() == 4 ? 4096 : 2048;

    [ThreadStatic] private static T[]? t_packedA;
    [ThreadStatic] private static T[]? t_packedB;

    /// <summary>Computes the whole problem on the calling thread.</summary>
    public static void Run(in GemmProblem<T> p)
    {
        if (p.K == 0 || p.Alpha == T.Zero)
        {
            ScaleOnly(p);
            return;
        }
        T* packedB = PackedBBuffer(p);
        for (int jc = 0; jc < p.N; jc += NC)
        {
            int nc = Math.Min(NC, p.N - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                CpuGemmPacking<T>.PackB(p.B.From(pc, jc), kc, nc, packedB);
                for (int ic = 0; ic < p.M; ic += MC)
                    Block(p, jc, nc, pc, kc, ic, Math.Min(MC, p.M - ic), packedB);
            }
        }
    }

    /// <summary>This thread's buffer for B̃, large enough for the biggest KC×NC block of <paramref name="p"/>.</summary>
    public static T* PackedBBuffer(in GemmProblem<T> p) => Scratch(ref t_packedB, PackedBLength(p, p.N));

    /// <summary>
    /// One block of rows [ic, ic+mc) against the packed B̃ block (columns [jc, jc+nc), depth [pc, pc+kc)):
    /// packs Ã into this thread's buffer, then sweeps the micro-kernel over every MR×NR tile.
    /// Independent of other row blocks, so threads may run different ic blocks of one B̃ at once.
    /// </summary>
    public static void Block(in GemmProblem<T> p, int jc, int nc, int pc, int kc, int ic, int mc, T* packedB)
    {
        int nr = NR;
        bool first = pc == 0, last = pc + kc == p.K;
        // First k-block: C = alpha·AB + beta·C (C not read when beta = 0); later blocks accumulate.
        T beta = first ? p.Beta : T.One;
        bool readC = !first || p.Beta != T.Zero;
        bool epilogue = last && (p.Bias is not null || p.Activation != Activation.Identity);
        T* packedA = Scratch(ref t_packedA, RoundUp(mc, MR) * kc + CpuGemmPacking<T>.PackedAPadding);
        T* tile = stackalloc T[MR * MaxNR]; // MR×NR scratch for edge tiles
        CpuGemmPacking<T>.PackA(p.A.From(ic, pc), mc, kc, packedA);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrCur = Math.Min(nr, nc - jr);
            T* panelB = packedB + (long)jr * kc;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mrCur = Math.Min(MR, mc - ir);
                T* c = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                T* panelA = packedA + (long)ir * kc;
                if (mrCur == MR && nrCur == nr)
                    Tile(kc, panelA, panelB, c, p.Ldc, p.Alpha, beta, readC);
                else
                    EdgeTile(kc, panelA, panelB, c, p.Ldc, mrCur, nrCur, p.Alpha, beta, readC, tile);
                if (epilogue)
                    for (int i = 0; i < mrCur; i++)
                        CpuGemmEpilogue<T>.BiasAndActivation(new Span<T>(c + (long)i * p.Ldc, nrCur),
                            p.Bias is null ? null : p.Bias + jc + jr, p.Activation);
            }
        }
    }

    /// <summary>k = 0 or alpha = 0: op(A)·op(B) contributes nothing (and A, B are not read, as in BLAS),
    /// so C = act(beta·C + bias).</summary>
    private static void ScaleOnly(in GemmProblem<T> p)
    {
        for (int i = 0; i < p.M; i++)
        {
            var row = new Span<T>(p.C + (long)i * p.Ldc, p.N);
            if (p.Beta == T.Zero) row.Clear();
            else if (p.Beta != T.One) System.Numerics.Tensors.TensorPrimitives.Multiply(row, p.Beta, row);
            CpuGemmEpilogue<T>.BiasAndActivation(row, p.Bias, p.Activation);
        }
    }

    /// <summary>One full MR×NR tile with the micro-kernel <see cref="UseVector512"/> selects.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, bool readC)
    {
        if (UseVector512) CpuGemmMicroKernel512<T>.Tile(kc, a, b, c, ldc, alpha, beta, readC);
        else CpuGemmMicroKernel<T>.Tile(kc, a, b, c, ldc, alpha, beta, readC);
    }

    /// <summary>A partial tile (mr ≤ MR rows, nr ≤ NR columns) at the bottom/right edge of C: the full
    /// micro-kernel writes into <paramref name="tile"/> (MR×NR; packed panels are zero-padded), then only
    /// the valid part is merged into C.</summary>
    private static void EdgeTile(int kc, T* a, T* b, T* c, int ldc, int mr, int nr, T alpha, T beta, bool readC, T* tile)
    {
        int fullNr = NR;
        Tile(kc, a, b, tile, fullNr, T.One, T.Zero, readC: false);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
            {
                T v = alpha * tile[i * fullNr + j];
                c[(long)i * ldc + j] = readC ? v + beta * c[(long)i * ldc + j] : v;
            }
    }

    /// <summary>Grows this thread's packing buffers to hold at least <paramref name="packedA"/> elements of Ã and
    /// <paramref name="packedB"/> of B̃ (as <see cref="Block"/> and <see cref="PackedBBuffer"/> request them).</summary>
    public static void EnsureScratch(int packedA, int packedB)
    {
        if (packedA > 0) Scratch(ref t_packedA, packedA);
        if (packedB > 0) Scratch(ref t_packedB, packedB);
    }

    /// <summary>The most elements of Ã that <see cref="Block"/> asks for on a block of at most <paramref name="rows"/> rows of
    /// <paramref name="p"/> (the largest block: <c>min(rows, M)</c> rows, <c>min(KC, K)</c> deep).</summary>
    public static int PackedALength(in GemmProblem<T> p, int rows) => RoundUp(Math.Min(rows, p.M), MR) * Math.Min(KC, p.K) + CpuGemmPacking<T>.PackedAPadding;

    /// <summary>The most elements of B̃ that <see cref="Run"/> asks for on a problem of <paramref name="p"/>'s depth and at most
    /// <paramref name="columns"/> columns.</summary>
    public static int PackedBLength(in GemmProblem<T> p, int columns) => RoundUp(Math.Min(NC, Math.Min(columns, p.N)), NR) * Math.Min(KC, p.K);

    public static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>This thread's packing buffer, 64-byte aligned, grown (never shrunk) on demand: after the
    /// first call of a given size no GEMM allocates. Pinned-heap arrays, so the pointer is stable.</summary>
    private static T* Scratch(ref T[]? buffer, int length)
    {
        int pad = 64 / Unsafe.SizeOf<T>();
        if (buffer is null || buffer.Length < length + pad)
            buffer = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (T*)((address + 63) & ~(nint)63);
    }
}
