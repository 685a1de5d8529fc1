using ILGPU;
using ILGPU.Runtime;

// ILGPU's CPU accelerator emits a dynamic assembly that must see the kernel's internal argument struct.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("ILGPURuntime")]

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The general GPU GEMM: <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c> as an explicitly grouped kernel, for the
/// shapes and offsets the fast <see cref="IlgpuSgemmKernel"/> cannot take (a direction of 4-float loads that is not a
/// multiple of 4, or a view not 16-byte aligned: see <see cref="IlgpuBackend.CanUseSgemm"/>). Scalar loads, transposes
/// and activation decided at run time, guarded loads: correct for any m, n, k, slower.
/// <list type="bullet">
/// <item>Each group of 16×16 = 256 threads owns a BM×BN = 128×128 tile of C.</item>
/// <item>The k dimension is walked in slices of BK = 8: the group cooperatively copies the 128×8 slice
/// of op(A) and the 8×128 slice of op(B) into shared memory (4 elements per thread each, coalesced in
/// whichever direction the operand is contiguous — that is where the transposes are handled), then
/// barriers.</item>
/// <item>Register blocking: each thread accumulates an 8×8 block of C in 64 registers (eight
/// <see cref="Row8"/> values). Per k step it reads 8 values of A and 8 of B from shared memory and does
/// 64 FMAs — 4 FMAs per shared load, 16× the reuse of a one-output thread. Its outputs are strided by
/// 16 (rows ty + 16i, columns tx + 16j), so the 16 threads of a half-warp read 16 consecutive shared
/// words (no bank conflicts) and write 16 consecutive floats of C.</item>
/// <item>Shared tiles are stored k-major with a padded leading dimension (129) so the stores of the
/// non-contiguous direction do not all hit one bank.</item>
/// <item>Out-of-range elements load as 0 and stores are guarded, so any m, n, k work.</item>
/// </list>
/// </summary>
internal static class IlgpuGemmKernel
{
    public const int BM = 128, BN = 128, BK = 8;
    /// <summary>Threads per group along x (columns) and y (rows); each thread owns TM×TN = 8×8 outputs.</summary>
    public const int ThreadsX = 16, ThreadsY = 16, TM = BM / ThreadsY, TN = BN / ThreadsX;
    private const int Threads = ThreadsX * ThreadsY;
    /// <summary>Padded leading dimensions of the shared tiles (k-major).</summary>
    private const int LdA = BM + 1, LdB = BN + 1;

    /// <summary>Scalar arguments, passed by value. A batch of problems adds per-problem element strides (problem e reads
    /// A at e·StrideA, B at e·StrideB, the bias at e·StrideBias and writes C at e·StrideC; 0 repeats an operand), as in
    /// <see cref="IlgpuSgemmKernel.Arguments"/>; one GEMM is a batch of one.</summary>
    public readonly struct Arguments(int m, int n, int k, bool transA, bool transB, float alpha, float beta, bool hasBias, Activation activation,
        int strideA = 0, int strideB = 0, int strideC = 0, int strideBias = 0)
    {
        public readonly int M = m, N = n, K = k;
        public readonly int TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, HasBias = hasBias ? 1 : 0;
        public readonly int Activation = (int)activation;
        public readonly float Alpha = alpha, Beta = beta;
        public readonly int StrideA = strideA, StrideB = strideB, StrideC = strideC, StrideBias = strideBias;
    }

    /// <summary>Eight floats that live in registers: one thread's 8 outputs of one row (columns tx + 16j),
    /// or the 8 values of B it reads per k step.</summary>
    public struct Row8
    {
        public float V0, V1, V2, V3, V4, V5, V6, V7;

        /// <summary>this += a · b, element by element (8 multiply-adds).</summary>
        public void MultiplyAdd(float a, Row8 b)
        {
            V0 += a * b.V0; V1 += a * b.V1; V2 += a * b.V2; V3 += a * b.V3;
            V4 += a * b.V4; V5 += a * b.V5; V6 += a * b.V6; V7 += a * b.V7;
        }

        /// <summary>Reads 8 values 16 apart: <c>tile[start + 16j]</c>.</summary>
        public static Row8 Load(ArrayView<float> tile, int start) => new()
        {
            V0 = tile[start], V1 = tile[start + 16], V2 = tile[start + 32], V3 = tile[start + 48],
            V4 = tile[start + 64], V5 = tile[start + 80], V6 = tile[start + 96], V7 = tile[start + 112],
        };

        /// <summary>Writes row <paramref name="row"/>, columns col + 16j, of problem <paramref name="problem"/> through the epilogue.</summary>
        public readonly void Store(ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args, int problem, int row, int col)
        {
            if (row >= args.M) return;
            IlgpuGemmKernel.Store(c, bias, args, problem, row, col, V0); IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 16, V1);
            IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 32, V2); IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 48, V3);
            IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 64, V4); IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 80, V5);
            IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 96, V6); IlgpuGemmKernel.Store(c, bias, args, problem, row, col + 112, V7);
        }
    }

    /// <summary>One group per 128×128 tile of one problem's C: grid (⌈n/128⌉, ⌈m/128⌉, problems), group (16, 16).</summary>
    public static KernelConfig Config(int m, int n, int problems = 1) =>
        new(new Index3D((n + BN - 1) / BN, (m + BM - 1) / BM, problems), new Index3D(ThreadsX, ThreadsY, 1));

    public static void Run(ArrayView1D<float, Stride1D.Dense> a, ArrayView1D<float, Stride1D.Dense> b,
        ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args)
    {
        var tileA = SharedMemory.Allocate<float>(BK * LdA); // tileA[kk·LdA + row] = op(A)[row0 + row, k0 + kk]
        var tileB = SharedMemory.Allocate<float>(BK * LdB); // tileB[kk·LdB + col] = op(B)[k0 + kk, col0 + col]
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * ThreadsX + tx;
        int row0 = Grid.IdxY * BM, col0 = Grid.IdxX * BN, problem = Grid.IdxZ;
        int m = args.M, n = args.N, k = args.K;
        int baseA = problem * args.StrideA, baseB = problem * args.StrideB;

        // The 8×8 register block: row i holds outputs (row0 + ty + 16i, col0 + tx + 16j), j = 0..7.
        Row8 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;

        for (int k0 = 0; k0 < k; k0 += BK)
        {
            // Cooperative loads: 128×8 = 1024 elements of each operand, 4 per thread.
            for (int r = 0; r < BM * BK / Threads; r++)
            {
                int e = thread + r * Threads;
                int row, kk;
                float v = 0;
                if (args.TransA != 0)
                {
                    row = e % BM; kk = e / BM; // A is k×m: consecutive threads read consecutive rows of op(A)
                    if (row0 + row < m && k0 + kk < k) v = a[baseA + (k0 + kk) * m + row0 + row];
                }
                else
                {
                    kk = e % BK; row = e / BK; // A is m×k: consecutive threads read consecutive k
                    if (row0 + row < m && k0 + kk < k) v = a[baseA + (row0 + row) * k + k0 + kk];
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
                    if (col0 + col < n && k0 + kk < k) v = b[baseB + (col0 + col) * k + k0 + kk];
                }
                else
                {
                    col = e % BN; kk = e / BN; // B is k×n: consecutive threads read consecutive columns
                    if (col0 + col < n && k0 + kk < k) v = b[baseB + (k0 + kk) * n + col0 + col];
                }
                tileB[kk * LdB + col] = v;
            }
            Group.Barrier();

            for (int kk = 0; kk < BK; kk++)
            {
                var bRow = Row8.Load(tileB, kk * LdB + tx);
                int ia = kk * LdA + ty;
                c0.MultiplyAdd(tileA[ia], bRow); c1.MultiplyAdd(tileA[ia + 16], bRow);
                c2.MultiplyAdd(tileA[ia + 32], bRow); c3.MultiplyAdd(tileA[ia + 48], bRow);
                c4.MultiplyAdd(tileA[ia + 64], bRow); c5.MultiplyAdd(tileA[ia + 80], bRow);
                c6.MultiplyAdd(tileA[ia + 96], bRow); c7.MultiplyAdd(tileA[ia + 112], bRow);
            }
            Group.Barrier(); // everyone is done reading before the next slice overwrites the tiles
        }

        int r0 = row0 + ty, q0 = col0 + tx;
        c0.Store(c, bias, args, problem, r0, q0); c1.Store(c, bias, args, problem, r0 + 16, q0);
        c2.Store(c, bias, args, problem, r0 + 32, q0); c3.Store(c, bias, args, problem, r0 + 48, q0);
        c4.Store(c, bias, args, problem, r0 + 64, q0); c5.Store(c, bias, args, problem, r0 + 80, q0);
        c6.Store(c, bias, args, problem, r0 + 96, q0); c7.Store(c, bias, args, problem, r0 + 112, q0);
    }

    /// <summary>The fused epilogue for one element: <c>C[row, col] = act(alpha·acc + beta·C + bias[col])</c>;
    /// C is not read when beta = 0 (it may hold garbage).</summary>
    private static void Store(ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args, int problem, int row, int col, float acc)
    {
        if (row >= args.M || col >= args.N) return;
        int index = problem * args.StrideC + row * args.N + col;
        float v = args.Alpha * acc;
        if (args.Beta != 0) v += args.Beta * c[index];
        if (args.HasBias != 0) v += bias[problem * args.StrideBias + col];
        c[index] = Activate(v, args.Activation);
    }

    /// <summary>The activations of <see cref="Engine.Kernels.Activation"/>, by their integer value: the same functions
    /// as the elementwise kernel. Not <c>XMath.Tanh</c>/<c>XMath.Max</c>: on CUDA ILGPU compiles them to
    /// <c>tanh.approx.f32</c> (relative error up to about 2⁻¹¹) and <c>max.f32</c> (which turns NaN into 0).</summary>
    private static float Activate(float x, int activation) => IlgpuBackend.Activate(activation, x);
}
