using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

// ILGPU's CPU accelerator emits a dynamic assembly that must see the kernel's internal argument struct.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("ILGPURuntime")]

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The GPU GEMM: <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c> as an explicitly grouped kernel.
/// <list type="bullet">
/// <item>Each group of 16×16 = 256 threads owns a BM×BN = 64×64 tile of C.</item>
/// <item>The k dimension is walked in slices of BK = 16: the group cooperatively copies the 64×16 slice
/// of op(A) and the 16×64 slice of op(B) into shared memory (4 elements per thread each, coalesced in
/// whichever direction the operand is contiguous — that is where the transposes are handled), then
/// barriers.</item>
/// <item>Register blocking: each thread accumulates a 4×4 block of C in 16 registers. Per k step it
/// reads 4 values of A and 4 of B from shared memory and does 16 FMAs (4× the reuse of a one-output
/// thread). Its outputs are strided by 16 (rows ty + 16i, columns tx + 16j), so the 16 threads of a
/// half-warp read 16 consecutive shared words (no bank conflicts) and write 16 consecutive floats of C.</item>
/// <item>Shared tiles are stored k-major with a padded leading dimension (65) so the stores of the
/// non-contiguous direction do not all hit one bank.</item>
/// <item>Out-of-range elements load as 0 and stores are guarded, so any m, n, k work.</item>
/// </list>
/// </summary>
internal static class IlgpuGemmKernel
{
    public const int BM = 64, BN = 64, BK = 16;
    /// <summary>Threads per group along x (columns) and y (rows); each thread owns TM×TN = 4×4 outputs.</summary>
    public const int ThreadsX = 16, ThreadsY = 16, TM = BM / ThreadsY, TN = BN / ThreadsX;
    private const int Threads = ThreadsX * ThreadsY;
    /// <summary>Padded leading dimensions of the shared tiles (k-major).</summary>
    private const int LdA = BM + 1, LdB = BN + 1;

    /// <summary>Scalar arguments, passed by value.</summary>
    public readonly struct Arguments(int m, int n, int k, bool transA, bool transB, float alpha, float beta, bool hasBias, Activation activation)
    {
        public readonly int M = m, N = n, K = k;
        public readonly int TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, HasBias = hasBias ? 1 : 0;
        public readonly int Activation = (int)activation;
        public readonly float Alpha = alpha, Beta = beta;
    }

    /// <summary>One group per 64×64 tile of C: grid (⌈n/64⌉, ⌈m/64⌉), group (16, 16).</summary>
    public static KernelConfig Config(int m, int n) =>
        new(new Index2D((n + BN - 1) / BN, (m + BM - 1) / BM), new Index2D(ThreadsX, ThreadsY));

    public static void Run(ArrayView1D<float, Stride1D.Dense> a, ArrayView1D<float, Stride1D.Dense> b,
        ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args)
    {
        var tileA = SharedMemory.Allocate<float>(BK * LdA); // tileA[kk·LdA + row] = op(A)[row0 + row, k0 + kk]
        var tileB = SharedMemory.Allocate<float>(BK * LdB); // tileB[kk·LdB + col] = op(B)[k0 + kk, col0 + col]
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * ThreadsX + tx;
        int row0 = Grid.IdxY * BM, col0 = Grid.IdxX * BN;
        int m = args.M, n = args.N, k = args.K;

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < k; k0 += BK)
        {
            // Cooperative loads: 64×16 = 1024 elements of each operand, 4 per thread.
            for (int r = 0; r < BM * BK / Threads; r++)
            {
                int e = thread + r * Threads;
                int row, kk;
                float v = 0;
                if (args.TransA != 0)
                {
                    row = e % BM; kk = e / BM; // A is k×m: consecutive threads read consecutive rows of op(A)
                    if (row0 + row < m && k0 + kk < k) v = a[(k0 + kk) * m + row0 + row];
                }
                else
                {
                    kk = e % BK; row = e / BK; // A is m×k: consecutive threads read consecutive k
                    if (row0 + row < m && k0 + kk < k) v = a[(row0 + row) * k + k0 + kk];
                }
                tileA[kk * LdA + row] = v;
            }
            for (int r = 0; r < BN * BK / Threads; r++)
            {
                int e = thread + r * Threads;
                int col, kk;
                float v = 0;
                if (args.TransB != 0)
                {
                    kk = e % BK; col = e / BK; // B is n×k: consecutive threads read consecutive k
                    if (col0 + col < n && k0 + kk < k) v = b[(col0 + col) * k + k0 + kk];
                }
                else
                {
                    col = e % BN; kk = e / BN; // B is k×n: consecutive threads read consecutive columns
                    if (col0 + col < n && k0 + kk < k) v = b[(k0 + kk) * n + col0 + col];
                }
                tileB[kk * LdB + col] = v;
            }
            Group.Barrier();

            for (int kk = 0; kk < BK; kk++)
            {
                int ia = kk * LdA + ty, ib = kk * LdB + tx;
                float a0 = tileA[ia], a1 = tileA[ia + 16], a2 = tileA[ia + 32], a3 = tileA[ia + 48];
                float b0 = tileB[ib], b1 = tileB[ib + 16], b2 = tileB[ib + 32], b3 = tileB[ib + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier(); // everyone is done reading before the next slice overwrites the tiles
        }

        int r0 = row0 + ty, q0 = col0 + tx;
        Store(c, bias, args, r0, q0, c00); Store(c, bias, args, r0, q0 + 16, c01); Store(c, bias, args, r0, q0 + 32, c02); Store(c, bias, args, r0, q0 + 48, c03);
        Store(c, bias, args, r0 + 16, q0, c10); Store(c, bias, args, r0 + 16, q0 + 16, c11); Store(c, bias, args, r0 + 16, q0 + 32, c12); Store(c, bias, args, r0 + 16, q0 + 48, c13);
        Store(c, bias, args, r0 + 32, q0, c20); Store(c, bias, args, r0 + 32, q0 + 16, c21); Store(c, bias, args, r0 + 32, q0 + 32, c22); Store(c, bias, args, r0 + 32, q0 + 48, c23);
        Store(c, bias, args, r0 + 48, q0, c30); Store(c, bias, args, r0 + 48, q0 + 16, c31); Store(c, bias, args, r0 + 48, q0 + 32, c32); Store(c, bias, args, r0 + 48, q0 + 48, c33);
    }

    /// <summary>The fused epilogue for one element: <c>C[row, col] = act(alpha·acc + beta·C + bias[col])</c>;
    /// C is not read when beta = 0 (it may hold garbage).</summary>
    private static void Store(ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args, int row, int col, float acc)
    {
        if (row >= args.M || col >= args.N) return;
        int index = row * args.N + col;
        float v = args.Alpha * acc;
        if (args.Beta != 0) v += args.Beta * c[index];
        if (args.HasBias != 0) v += bias[col];
        c[index] = Activate(v, args.Activation);
    }

    /// <summary>The activations of <see cref="Engine.Kernels.Activation"/>, by their integer value.</summary>
    private static float Activate(float x, int activation) => activation switch
    {
        1 => XMath.Max(x, 0f),
        2 => XMath.Tanh(x),
        3 => 1f / (1f + XMath.Exp(-x)),
        _ => x,
    };
}
