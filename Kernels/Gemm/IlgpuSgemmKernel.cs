using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The fast GPU SGEMM (FP32, no TF32): <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c>, for operands whose vector
/// direction is a multiple of 4 floats and 16-byte aligned (<see cref="IlgpuBackend.CanUseSgemm"/>; the others take
/// <see cref="IlgpuGemmKernel"/>). Reference in words (the CPU path, Kernels/Gemm/CpuGemm.cs, is the same maths):
/// <list type="number">
/// <item>Block tiling: a group of 256 threads owns a 128×128 tile of C and walks k in slices of BK = 8.</item>
/// <item>Warp tiling and register blocking: the 8 warps form 2×4 warp tiles of 64×32; a warp's 32 lanes form 8×4, and
/// each lane accumulates an 8×8 block of C (rows <c>s·32 + 4·laneRow + i</c>, columns <c>s·16 + 4·laneCol + j</c>,
/// s ∈ {0, 1}) in 64 registers. Per k step a lane reads 2 float4 of A and 2 float4 of B (four LDS.128) and does 64
/// FFMA: 16 FFMA per shared load.</item>
/// <item>Shared tiles are k-major (<c>As[kk][row]</c>) with a row stride of 132 floats: 16-byte aligned rows for
/// LDS.128, and the transposing stores of the k-contiguous layout do not collide in a bank.</item>
/// <item>Double buffering: while the group computes on one pair of shared tiles, each thread's next 128-bit global loads
/// are in flight into registers; after the 8 k steps they go to the other pair, and one barrier per slice suffices.</item>
/// <item>The transposes (<c>TA</c>, <c>TB</c>) and the activation
/// (<c>TAct</c>) are type arguments: each combination is its own compiled kernel, so the main loop has
/// no layout or activation branch, and no bounds check (edge rows are clamped before it, see
/// <see cref="ISgemmLayout"/>). The last partial slice (k mod 8) and the guarded, vectorised stores of the epilogue
/// come after it.</item>
/// </list>
/// </summary>
internal static class IlgpuSgemmKernel
{
    public const int BM = 128, BN = 128, BK = 8, Threads = 256;
    /// <summary>Row stride of the k-major shared tiles, in floats (128 + 4: keeps 16-byte alignment).</summary>
    public const int LdS = BM + 4;
    /// <summary>Floats of one shared tile (BK rows of LdS).</summary>
    private const int TileFloats = BK * LdS;

    /// <summary>Scalar arguments, passed by value. A batch of problems (the experts of a mixture layer) adds per-problem
    /// element strides: problem e reads A at e·StrideA, B at e·StrideB, the bias at e·StrideBias and writes C at e·StrideC
    /// (each a multiple of 4, so every problem keeps the 16-byte alignment; 0 repeats an operand). One GEMM is a batch of
    /// one with strides 0.</summary>
    public readonly struct Arguments(int m, int n, int k, float alpha, float beta, bool hasBias,
        int strideA = 0, int strideB = 0, int strideC = 0, int strideBias = 0)
    {
        public readonly int M = m, N = n, K = k, HasBias = hasBias ? 1 : 0;
        public readonly float Alpha = alpha, Beta = beta;
        public readonly int StrideA = strideA, StrideB = strideB, StrideC = strideC, StrideBias = strideBias;
    }

    /// <summary>One group per 128×128 tile of one problem's C: grid (⌈n/128⌉, ⌈m/128⌉, problems), 256 threads.</summary>
    public static KernelConfig Config(int m, int n, int problems = 1) =>
        new(new Index3D((n + BN - 1) / BN, (m + BM - 1) / BM, problems), new Index3D(Threads, 1, 1));

    /// <summary>One lane's 8×8 block of C: row r (0…7) holds columns 0…3 in <c>Rr0</c> and 16…19 in <c>Rr1</c>
    /// (relative to the lane's first column).</summary>
    public struct Block
    {
        public Vec4 R00, R01, R10, R11, R20, R21, R30, R31, R40, R41, R50, R51, R60, R61, R70, R71;

        /// <summary>One k step: the outer product of the lane's 8 values of op(A) and 8 of op(B) (64 FFMA).</summary>
        public void Update(Vec4 a0, Vec4 a1, Vec4 b0, Vec4 b1)
        {
            R00.MultiplyAdd(a0.X, b0); R01.MultiplyAdd(a0.X, b1); R10.MultiplyAdd(a0.Y, b0); R11.MultiplyAdd(a0.Y, b1);
            R20.MultiplyAdd(a0.Z, b0); R21.MultiplyAdd(a0.Z, b1); R30.MultiplyAdd(a0.W, b0); R31.MultiplyAdd(a0.W, b1);
            R40.MultiplyAdd(a1.X, b0); R41.MultiplyAdd(a1.X, b1); R50.MultiplyAdd(a1.Y, b0); R51.MultiplyAdd(a1.Y, b1);
            R60.MultiplyAdd(a1.Z, b0); R61.MultiplyAdd(a1.Z, b1); R70.MultiplyAdd(a1.W, b0); R71.MultiplyAdd(a1.W, b1);
        }
    }

    /// <summary>Compiled for 256 threads and two resident groups per SM: at most 128 registers per thread.</summary>
    public const int MinGroupsPerSm = 2;

    [LaunchGroupSize(Threads, MinGroupsPerSm = MinGroupsPerSm)]
    public static void Run<TA, TB, TAct>(ArrayView1D<float, Stride1D.Dense> a, ArrayView1D<float, Stride1D.Dense> b,
        ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias, Arguments args)
        where TA : struct, ISgemmLayout where TB : struct, ISgemmLayout where TAct : struct, ISgemmActivation
    {
        // Two buffers of each tile: [0, TileFloats) and [TileFloats, 2·TileFloats).
        var sharedA = SharedMemory.Allocate<Vec4>(2 * TileFloats / 4);
        var sharedB = SharedMemory.Allocate<Vec4>(2 * TileFloats / 4);
        var tileA = sharedA.Cast<float>();
        var tileB = sharedB.Cast<float>();
        var a4 = a.AsAligned16().Cast<float, Vec4>();
        var b4 = b.AsAligned16().Cast<float, Vec4>();

        int thread = Group.IdxX;
        int m = args.M, n = args.N, k = args.K;
        int row0 = Grid.IdxY * BM, col0 = Grid.IdxX * BN, problem = Grid.IdxZ;
        TA la = default;
        TB lb = default;
        int ldA = la.AlongK ? k : m, ldB = lb.AlongK ? k : n;
        int baseA = problem * args.StrideA, baseB = problem * args.StrideB;
        int nextA = baseA + la.Start(thread, row0, m, ldA), nextB = baseB + lb.Start(thread, col0, n, ldB);
        int stepA = BK * la.KStride(ldA), stepB = BK * lb.KStride(ldB);

        int warp = thread >> 5, lane = thread & 31;
        int aRead = (warp >> 2) * 64 + (lane >> 2) * 4;   // the lane's first row in the tile
        int bRead = (warp & 3) * 32 + (lane & 3) * 4;     // the lane's first column in the tile
        Block acc = default;

        int slices = k / BK;
        if (slices > 0)
        {
            la.Store(tileA, sharedA, thread, a4[nextA >> 2]);
            lb.Store(tileB, sharedB, thread, b4[nextB >> 2]);
            Group.Barrier();
        }
        int lastA = nextA + (slices - 1) * stepA, lastB = nextB + (slices - 1) * stepB;
        for (int s = 0; s < slices; s++)
        {
            // Prefetch slice s + 1 (the last slice again on the last pass: a harmless, branch-free reload).
            nextA = nextA + stepA < lastA ? nextA + stepA : lastA;
            nextB = nextB + stepB < lastB ? nextB + stepB : lastB;
            var nextSliceA = a4[nextA >> 2];
            var nextSliceB = b4[nextB >> 2];

            // The 8 k steps, unrolled by hand (ILGPU does not unroll the loop): 32 LDS.128 and 512 FFMA. Indexing a
            // sub-view with constants lets ptxas fold each offset into the load ([R + imm]) instead of recomputing addresses.
            var fa = sharedA.SubView((s & 1) * (TileFloats / 4) + aRead / 4);
            var fb = sharedB.SubView((s & 1) * (TileFloats / 4) + bRead / 4);
            const int Row = LdS / 4; // one k row of a shared tile, in Vec4
            acc.Update(fa[0], fa[8], fb[0], fb[4]);
            acc.Update(fa[Row], fa[Row + 8], fb[Row], fb[Row + 4]);
            acc.Update(fa[2 * Row], fa[2 * Row + 8], fb[2 * Row], fb[2 * Row + 4]);
            acc.Update(fa[3 * Row], fa[3 * Row + 8], fb[3 * Row], fb[3 * Row + 4]);
            acc.Update(fa[4 * Row], fa[4 * Row + 8], fb[4 * Row], fb[4 * Row + 4]);
            acc.Update(fa[5 * Row], fa[5 * Row + 8], fb[5 * Row], fb[5 * Row + 4]);
            acc.Update(fa[6 * Row], fa[6 * Row + 8], fb[6 * Row], fb[6 * Row + 4]);
            acc.Update(fa[7 * Row], fa[7 * Row + 8], fb[7 * Row], fb[7 * Row + 4]);

            int other = ((s + 1) & 1) * TileFloats;
            la.Store(tileA.SubView(other, TileFloats), sharedA.SubView(other / 4, TileFloats / 4), thread, nextSliceA);
            lb.Store(tileB.SubView(other, TileFloats), sharedB.SubView(other / 4, TileFloats / 4), thread, nextSliceB);
            Group.Barrier();
        }

        int rest = k - slices * BK;
        if (rest > 0) acc = Tail(a, b, la, lb, ldA, ldB, baseA, baseB, row0, col0, m, n, k, slices * BK, rest, tileA, tileB, sharedA, sharedB, (slices & 1) * TileFloats, aRead, bRead, acc);

        Epilogue<TAct>(c, bias, args, problem, row0 + aRead, col0 + bRead, acc);
    }

    /// <summary>The last k mod 8 steps: guarded scalar loads (zero past k) into the free buffer, then that many steps.</summary>
    private static Block Tail<TA, TB>(ArrayView1D<float, Stride1D.Dense> a, ArrayView1D<float, Stride1D.Dense> b, TA la, TB lb,
        int ldA, int ldB, int baseA, int baseB, int row0, int col0, int m, int n, int k, int k0, int rest, ArrayView<float> tileA, ArrayView<float> tileB,
        ArrayView<Vec4> sharedA, ArrayView<Vec4> sharedB, int buffer, int aRead, int bRead, Block acc)
        where TA : struct, ISgemmLayout where TB : struct, ISgemmLayout
    {
        int thread = Group.IdxX;
        la.Store(tileA.SubView(buffer, TileFloats), sharedA.SubView(buffer / 4, TileFloats / 4), thread,
            TailLoad(a, la, baseA + la.Start(thread, row0, m, ldA), k0, ldA, k, thread));
        lb.Store(tileB.SubView(buffer, TileFloats), sharedB.SubView(buffer / 4, TileFloats / 4), thread,
            TailLoad(b, lb, baseB + lb.Start(thread, col0, n, ldB), k0, ldB, k, thread));
        Group.Barrier();
        for (int kk = 0; kk < rest; kk++)
        {
            int ra = buffer / 4 + (kk * LdS + aRead) / 4, rb = buffer / 4 + (kk * LdS + bRead) / 4;
            acc.Update(sharedA[ra], sharedA[ra + 8], sharedB[rb], sharedB[rb + 4]);
        }
        return acc;
    }

    private static Vec4 TailLoad<TL>(ArrayView1D<float, Stride1D.Dense> x, TL layout, int start, int k0, int ld, int k, int thread)
        where TL : struct, ISgemmLayout
    {
        int kFirst = k0 + layout.KOffset(thread);
        int at = start + k0 * layout.KStride(ld);
        if (layout.AlongK)
            return new Vec4(kFirst < k ? x[at] : 0, kFirst + 1 < k ? x[at + 1] : 0, kFirst + 2 < k ? x[at + 2] : 0, kFirst + 3 < k ? x[at + 3] : 0);
        return kFirst < k ? new Vec4(x[at], x[at + 1], x[at + 2], x[at + 3]) : default;
    }

    /// <summary>C = act(alpha·acc + beta·C + bias) for the lane's 8×8 block of problem <paramref name="problem"/>, one
    /// 128-bit load/store per 4 columns; rows and column groups past the edge are skipped (n is a multiple of 4, so a
    /// group is all in or all out). C is not read when beta = 0 (it may hold garbage).</summary>
    private static void Epilogue<TAct>(ArrayView1D<float, Stride1D.Dense> c, ArrayView1D<float, Stride1D.Dense> bias,
        Arguments args, int problem, int row, int col, Block acc) where TAct : struct, ISgemmActivation
    {
        // The problem's C and bias start at float4 boundaries (the strides are multiples of 4).
        var c4 = c.AsAligned16().Cast<float, Vec4>();
        var bias4 = bias.AsAligned16().Cast<float, Vec4>();
        int c0 = (problem * args.StrideC) >> 2, bias0 = (problem * args.StrideBias) >> 2;
        Vec4 b0 = default, b1 = default;
        if (args.HasBias != 0)
        {
            if (col < args.N) b0 = bias4[bias0 + (col >> 2)];
            if (col + 16 < args.N) b1 = bias4[bias0 + ((col + 16) >> 2)];
        }
        StoreRow<TAct>(c4, args, c0, row, col, b0, b1, acc.R00, acc.R01);
        StoreRow<TAct>(c4, args, c0, row + 1, col, b0, b1, acc.R10, acc.R11);
        StoreRow<TAct>(c4, args, c0, row + 2, col, b0, b1, acc.R20, acc.R21);
        StoreRow<TAct>(c4, args, c0, row + 3, col, b0, b1, acc.R30, acc.R31);
        StoreRow<TAct>(c4, args, c0, row + 32, col, b0, b1, acc.R40, acc.R41);
        StoreRow<TAct>(c4, args, c0, row + 33, col, b0, b1, acc.R50, acc.R51);
        StoreRow<TAct>(c4, args, c0, row + 34, col, b0, b1, acc.R60, acc.R61);
        StoreRow<TAct>(c4, args, c0, row + 35, col, b0, b1, acc.R70, acc.R71);
    }

    private static void StoreRow<TAct>(ArrayView1D<Vec4, Stride1D.Dense> c4, Arguments args, int c0, int row, int col, Vec4 bias0, Vec4 bias1, Vec4 v0, Vec4 v1)
        where TAct : struct, ISgemmActivation
    {
        if (row >= args.M) return;
        int at = c0 + ((row * args.N + col) >> 2);
        if (col < args.N) c4[at] = Finish<TAct>(args, v0, bias0, c4, at);
        if (col + 16 < args.N) c4[at + 4] = Finish<TAct>(args, v1, bias1, c4, at + 4);
    }

    private static Vec4 Finish<TAct>(Arguments args, Vec4 acc, Vec4 bias, ArrayView1D<Vec4, Stride1D.Dense> c4, int at)
        where TAct : struct, ISgemmActivation
    {
        TAct act = default;
        var v = new Vec4(args.Alpha * acc.X, args.Alpha * acc.Y, args.Alpha * acc.Z, args.Alpha * acc.W);
        if (args.Beta != 0)
        {
            var old = c4[at];
            v = new Vec4(v.X + args.Beta * old.X, v.Y + args.Beta * old.Y, v.Z + args.Beta * old.Z, v.W + args.Beta * old.W);
        }
        v = new Vec4(v.X + bias.X, v.Y + bias.Y, v.Z + bias.Z, v.W + bias.W); // 0 without a bias
        return new Vec4(act.Apply(v.X), act.Apply(v.Y), act.Apply(v.Z), act.Apply(v.W));
    }
}
