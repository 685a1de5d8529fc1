using Engine.Kernels.Ilgpu;

namespace Engine.Tests.Kernels;

/// <summary>
/// The machine code of every ILGPU kernel, read without a GPU (docs/gpu.md §6, Bench/README.md "sass"). Every kernel
/// that <see cref="IlgpuKernelCatalog"/> finds (so also kernels added later) is compiled by ILGPU's PTX backend for
/// sm_90; where ptxas is on the PATH each is assembled and must not spill. Without ptxas those cases skip, unless
/// ENGINE_REQUIRE_PTXAS=1, which makes them fail (so a machine that should have ptxas cannot pass by skipping).
/// The parsing and the occupancy arithmetic are checked on hand-written inputs.
/// </summary>
public class SassTests
{
    /// <summary>Each kernel's PTX, compiled once for the whole class (it is the slow part).</summary>
    private static readonly Lazy<(IlgpuKernel Kernel, string Ptx)[]> s_ptx =
        new(() => [.. IlgpuSass.CompileAll(IlgpuKernelCatalog.Engine())]);

    private static readonly Lazy<SassKernelReport[]> s_sass = new(() =>
    {
        var reports = new SassKernelReport[s_ptx.Value.Length];
        Parallel.For(0, reports.Length, new ParallelOptions { MaxDegreeOfParallelism = 2 },
            i => reports[i] = IlgpuSass.Assemble(s_ptx.Value[i].Kernel, s_ptx.Value[i].Ptx));
        return reports;
    });

    private static void RequirePtxas()
    {
        if (IlgpuSass.ToolsAvailable) return;
        if (Environment.GetEnvironmentVariable("ENGINE_REQUIRE_PTXAS") == "1")
            Assert.Fail("ENGINE_REQUIRE_PTXAS=1 but ptxas/cuobjdump are not on the PATH (Debian: nvidia-cuda-toolkit; see docs/gpu.md).");
        Assert.Skip("ptxas/cuobjdump are not on the PATH: the SASS checks need them (docs/gpu.md; ENGINE_REQUIRE_PTXAS=1 makes this fail).");
    }

    [Fact]
    public void The_catalog_finds_every_kernel_by_its_delegate_including_generic_instantiations()
    {
        var names = IlgpuKernelCatalog.Engine().Select(k => k.Name).ToHashSet();
        // A sample of kernels of each kind (implicitly grouped, explicitly grouped with shared memory, single-thread),
        // each loaded somewhere in Engine.Kernels by a method group only.
        foreach (string expected in new[] { "IlgpuBackend.AdamKernel<WithoutAmsGrad>", "IlgpuBackend.AdamKernel<WithAmsGrad>",
                     "IlgpuBackend.SumOfSquaresKernel", "IlgpuBackend.GramKernel", "IlgpuBackend.FinalSumKernel",
                     "IlgpuBackend.UpdateStepControlKernel", "IlgpuBackend.UncertaintyKernel" })
            Assert.Contains(expected, names);
        Assert.False(IlgpuKernelCatalog.Engine().Single(k => k.Name == "IlgpuBackend.UncertaintyKernel").ExplicitlyGrouped); // first parameter Index1D
        Assert.True(IlgpuKernelCatalog.Engine().Single(k => k.Name == "IlgpuBackend.AdamKernel<WithoutAmsGrad>").ExplicitlyGrouped);
        Assert.True(IlgpuKernelCatalog.Engine().Single(k => k.Name == "IlgpuBackend.GramKernel").ExplicitlyGrouped);
        // Helpers that take views but are never made into a delegate are not kernels.
        Assert.DoesNotContain(names, n => n.EndsWith(".Store", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_kernel_compiles_to_ptx_for_sm_90()
    {
        Assert.NotEmpty(s_ptx.Value);
        foreach (var (kernel, ptx) in s_ptx.Value)
        {
            Assert.Contains(".target sm_", ptx); // ILGPU 1.5.3 writes sm_80 for SM_90; ptxas -arch=sm_90 makes sm_90 SASS of it
            Assert.Contains(".version 7.8", ptx);
            Assert.Contains(".entry", ptx);
            // The accurate tanh is the engine's own (docs/gpu.md §5), never PTX's tanh.approx.f32.
            Assert.False(ptx.Contains("tanh.approx", StringComparison.Ordinal), $"{kernel.Name}: tanh.approx.f32 in its PTX");
        }
    }

    [Fact]
    public void Every_kernel_assembles_for_sm_90_without_spills()
    {
        RequirePtxas();
        foreach (var r in s_sass.Value)
        {
            Assert.True(r.Registers > 0, $"{r.Kernel.Name}: ptxas reported no register count");
            Assert.True(r.SpillBytes == 0, $"{r.Kernel.Name} spills {r.SpillBytes} bytes ({r.Registers} registers)");
            // A stack frame (local arrays, e.g. ILGPU's software Math.Exp(double) in the single-thread uncertainty kernel) is
            // reported by the sass command but allowed: it is not register pressure.
            Assert.True(r.GroupsPerSm >= 1, $"{r.Kernel.Name}: no group of {r.Kernel.GroupSize} threads fits an SM");
        }
    }

    /// <summary>The SGEMM's SASS targets (issue 17), for every compiled variant (4 transpose pairs × 4 activations): the
    /// hot loop is the main k loop with its 8 unrolled steps (512 FFMA), at least 80 % of its instructions are FFMA, every
    /// shared load is 128-bit and every global load too; no spills; two groups of 256 threads per SM.</summary>
    [Fact]
    public void The_sgemm_main_loop_is_at_least_80_percent_ffma_with_only_128_bit_loads_and_two_groups_per_sm()
    {
        RequirePtxas();
        var sgemm = s_sass.Value.Where(r => r.Kernel.Method.Name == nameof(IlgpuSgemmKernel.Run) &&
                                            r.Kernel.Method.DeclaringType == typeof(IlgpuSgemmKernel)).ToArray();
        Assert.Equal(16, sgemm.Length);
        foreach (var r in sgemm)
        {
            var loop = r.Loop;
            string what = $"{r.Kernel.Name}: {loop.Instructions} instructions, {loop.Ffma} FFMA, LDS {SassMix.Widths("LDS", loop.SharedLoads)}, " +
                          $"LDG {SassMix.Widths("LDG", loop.GlobalLoads)}, {r.Registers} registers, {r.GroupsPerSm} groups/SM";
            Assert.False(r.LoopIsWholeKernel, what);
            Assert.Equal(8 * 64, loop.Ffma);
            Assert.True(loop.FfmaShare >= 0.80, what);
            Assert.Equal([128], loop.SharedLoads.Keys);
            Assert.Equal(32, loop.SharedLoads[128]); // 4 per k step
            Assert.Equal([128], loop.GlobalLoads.Keys);
            Assert.Equal(0, r.SpillBytes);
            Assert.True(r.GroupsPerSm >= 2, what);
            // The batched expert GEMM is this kernel with grid z = problem: it reads its problem index.
            Assert.Contains("SR_CTAID.Z", r.Sass, StringComparison.Ordinal);
        }
        var general = s_sass.Value.Single(r => r.Kernel.Name == "IlgpuGemmKernel.Run");
        Assert.Contains("SR_CTAID.Z", general.Sass, StringComparison.Ordinal);
    }

    /// <summary>Sum and Dot (and MSE, through SquaredDifferences) read float4 in their grid-stride loop — one 128-bit load
    /// per operand — and every group reduction of a scalar (the reductions' passes, the losses' partial sums, the counts)
    /// goes through warp shuffles (<c>GroupSumToFirst</c>: 5 SHFL.DOWN per warp pass, two passes) instead of a
    /// shared-memory tree (8 barriers for 256 threads).</summary>
    [Theory]
    [InlineData("IlgpuBackend.PartialSumsKernel<Values>", 1)]
    [InlineData("IlgpuBackend.PartialSumsKernel<Products>", 2)]
    [InlineData("IlgpuBackend.PartialSumsKernel<SquaredDifferences>", 2)]
    [InlineData("IlgpuBackend.FinalSumKernel", 0)]
    [InlineData("IlgpuBackend.CrossEntropyForwardKernel", 0)]
    [InlineData("IlgpuBackend.CountCorrectKernel", 0)]
    [InlineData("IlgpuBackend.MaskedMsePartialsKernel", 0)]
    [InlineData("IlgpuBackend.WeightedCrossEntropyPartialsKernel", 0)]
    public void Reductions_read_float4_and_reduce_groups_by_warp_shuffles(string kernel, int vectorLoads)
    {
        RequirePtxas();
        var r = s_sass.Value.Single(k => k.Kernel.Name == kernel);
        var code = IlgpuSass.Instructions(r.Sass);
        int shuffles = code.Count(i => IlgpuSass.Mnemonic(i.Text).StartsWith("SHFL.DOWN", StringComparison.Ordinal));
        int barriers = code.Count(i => IlgpuSass.Mnemonic(i.Text).StartsWith("BAR.SYNC", StringComparison.Ordinal));
        // Each group sum: 2 barriers and at least 10 shuffles (more where ptxas adds its divergent-warp fallback).
        Assert.True(shuffles >= 10, $"{kernel}: {shuffles} SHFL.DOWN");
        Assert.True(5 * barriers <= shuffles, $"{kernel}: {barriers} BAR.SYNC beside {shuffles} SHFL.DOWN (a shared-memory tree has 8 barriers and no shuffle)");
        if (vectorLoads > 0)
        {
            Assert.False(r.LoopIsWholeKernel);
            Assert.Equal(vectorLoads, r.Loop.GlobalLoads.GetValueOrDefault(128));
        }
        Assert.Equal(0, r.SpillBytes + r.StackBytes);
    }

    /// <summary>The bandwidth-bound streaming kernels (Kernels/Ilgpu/IlgpuStreaming.cs): their hot loop is the float4
    /// grid-stride loop, and every global load and store in it is 128-bit — one per buffer (θ, g, m, v, and vMax only in
    /// the AMSGrad kernel, which is compiled apart so the plain kernel's loop neither loads vMax nor branches on it; RMSprop's
/// one kernel holds ḡ and the momentum buffer behind uniform flags).</summary>
    [Theory]
    [InlineData("IlgpuBackend.AdamKernel<WithoutAmsGrad>", 4, 3)]
    [InlineData("IlgpuBackend.AdamKernel<WithAmsGrad>", 5, 4)]
    [InlineData("IlgpuBackend.SgdKernel", 3, 2)]
    [InlineData("IlgpuBackend.RmsPropKernel", 5, 4)]           // θ, g, v, and ḡ and buf (each only when centered / with momentum)
    [InlineData("IlgpuBackend.AdagradKernel", 3, 2)]           // θ, g, s
    [InlineData("IlgpuBackend.ScaleByScalarKernel", 2, 1)]     // x, and y when accumulating
    [InlineData("IlgpuBackend.LinearKernel", 3, 1)]            // a, b, result (each only when the operation reads it)
    [InlineData("IlgpuBackend.ActivationForwardKernel", 1, 1)]
    [InlineData("IlgpuBackend.ActivationBackwardKernel", 3, 1)] // saved, dy, and dx when accumulating
    public void Streaming_kernels_load_and_store_128_bits_per_buffer_in_their_main_loop(string kernel, int loads, int stores)
    {
        RequirePtxas();
        var r = s_sass.Value.Single(k => k.Kernel.Name == kernel);
        string what = $"{kernel}: LDG {SassMix.Widths("LDG", r.Loop.GlobalLoads)}, STG {SassMix.Widths("STG", r.Loop.GlobalStores)}";
        Assert.False(r.LoopIsWholeKernel, what);
        Assert.Equal([128], r.Loop.GlobalLoads.Keys);
        Assert.Equal(loads, r.Loop.GlobalLoads[128]);
        Assert.Equal([128], r.Loop.GlobalStores.Keys);
        Assert.Equal(stores, r.Loop.GlobalStores[128]);
        Assert.Equal(0, r.SpillBytes + r.StackBytes);
    }

    /// <summary>The Gram, the linear combination and DB-MTL's moving average read the task rows as float4 (their hot loops
    /// also hold the pair loop, the scalar coefficient load or the row loop around the float4 and scalar parts, so the check
    /// is on the whole kernel).</summary>
    [Theory]
    [InlineData("IlgpuBackend.GramKernel")]
    [InlineData("IlgpuBackend.LinearCombinationKernel")]
    [InlineData("IlgpuBackend.DbMtlAverageKernel")]
    [InlineData("IlgpuBackend.MocoTrackKernel")]
    public void Gram_and_linear_combination_read_rows_with_128_bit_loads(string kernel)
    {
        RequirePtxas();
        var r = s_sass.Value.Single(k => k.Kernel.Name == kernel);
        var whole = IlgpuSass.Mix(IlgpuSass.Instructions(r.Sass).Select(i => i.Text));
        Assert.True(whole.GlobalLoads.ContainsKey(128), $"{kernel}: LDG {SassMix.Widths("LDG", whole.GlobalLoads)}");
        Assert.True(r.Loop.GlobalLoads.ContainsKey(128), $"{kernel}: hot loop LDG {SassMix.Widths("LDG", r.Loop.GlobalLoads)}");
        Assert.Equal(0, r.SpillBytes + r.StackBytes);
    }

    /// <summary>Single-thread kernels that once had a local-memory stack frame from ILGPU's software float64 math
    /// (Math.Exp/Log/Cos pass CORDIC state by reference): uncertainty now uses XMath.Exp(float), GLS and RLW DeviceMath.</summary>
    [Theory]
    [InlineData("IlgpuBackend.UncertaintyKernel")]   // was 64 B
    [InlineData("IlgpuBackend.GeometricMeanKernel")] // was 64 B
    [InlineData("IlgpuBackend.RandomSoftmaxKernel")] // was 112 B
    [InlineData("IlgpuBackend.StchKernel")]
    [InlineData("IlgpuBackend.ExcessMtlKernel")]
    [InlineData("IlgpuBackend.MocoScalesKernel")]
    [InlineData("IlgpuBackend.MocoLambdaKernel")]
    [InlineData("IlgpuBackend.LogLossKernel")]
    [InlineData("IlgpuBackend.DbMtlCoefficientsKernel")]
    public void Kernels_with_float64_math_have_no_stack_frame(string kernel)
    {
        RequirePtxas();
        var r = s_sass.Value.Single(k => k.Kernel.Name == kernel);
        Assert.Equal(0, r.StackBytes);
        Assert.DoesNotContain("LDL", r.Sass, StringComparison.Ordinal);
        Assert.DoesNotContain("STL", r.Sass, StringComparison.Ordinal);
    }

    /// <summary>Clipping's segmented sum of squares: the float4 inside a segment piece read with 128-bit loads, two per
    /// iteration (its hot loop is the segment loop around them, which also holds the ≤ 3 + 3 scalar ends: the check on
    /// the widths is on that loop and on the whole kernel), and the group's sum by warp shuffles written out (SHFL.DOWN,
    /// 5 per warp pass, two passes) before the one shared slot per warp and the atomics.</summary>
    [Fact]
    public void The_sum_of_squares_reads_float4_and_reduces_by_warp_shuffles()
    {
        RequirePtxas();
        var r = s_sass.Value.Single(k => k.Kernel.Name == "IlgpuBackend.SumOfSquaresKernel");
        var whole = IlgpuSass.Mix(IlgpuSass.Instructions(r.Sass).Select(i => i.Text));
        string what = $"hot loop LDG {SassMix.Widths("LDG", r.Loop.GlobalLoads)}, kernel LDG {SassMix.Widths("LDG", whole.GlobalLoads)}";
        Assert.False(r.LoopIsWholeKernel, what);
        Assert.True(r.Loop.GlobalLoads.GetValueOrDefault(128) >= 2, what);
        int shuffles = IlgpuSass.Instructions(r.Sass).Count(i => i.Text.Contains("SHFL.DOWN", StringComparison.Ordinal));
        Assert.True(shuffles >= 10, $"{shuffles} SHFL.DOWN (two warp passes of 5 expected)");
        Assert.Equal(0, r.SpillBytes + r.StackBytes);
    }

    /// <summary>The CUDA occupancy calculator's arithmetic for compute capability 9.0, by hand: registers are allocated
    /// per warp in units of 256 (82 registers → 88 per thread → 2816 per warp), 64 K per SM.</summary>
    [Theory]
    [InlineData(82, 8256, 256, 2)]    // 65536 / 2816 = 23 warps → 2 groups of 8 warps
    [InlineData(128, 16384, 256, 2)]  // 4096 per warp → 16 warps → 2 groups
    [InlineData(32, 0, 256, 8)]       // 1024 per warp → 64 warps: the 64-warp limit, 8 groups
    [InlineData(16, 0, 32, 32)]       // the 32-groups limit
    [InlineData(32, 100000, 256, 2)]  // shared: 233472 / (100000 + 1024) = 2
    [InlineData(255, 0, 1024, 0)]     // 8192 per warp × 32 warps > 64 K: does not fit
    public void Groups_per_sm_follow_the_register_warp_and_shared_limits(int registers, int shared, int threads, int expected) =>
        Assert.Equal(expected, IlgpuSass.GroupsPerSm(registers, shared, threads));

    [Fact]
    public void The_hot_loop_is_the_backward_branch_with_the_most_ffma_and_widths_are_read_from_the_mnemonic()
    {
        const string sass = """
                /*0000*/                   MOV R1, c[0x0][0x28] ;
                /*0010*/                   LDG.E.128 R4, desc[UR4][R2.64] ;
                /*0020*/                   LDS.128 R8, [R0] ;
                /*0030*/                   FFMA R12, R8, R4, R12 ;
                /*0040*/                   FFMA R13, R9, R5, R13 ;
                /*0050*/                   LDS R14, [R0+0x4] ;
                /*0060*/               @P0 BRA 0x20 ;
                /*0070*/                   LDG.E R3, desc[UR4][R2.64] ;
                /*0080*/                   FADD R3, R3, 1 ;
                /*0090*/              @!P1 BRA 0x70 ;
                /*00a0*/                   STG.E.64 desc[UR4][R2.64], R12 ;
                /*00b0*/                   EXIT ;
                /*00c0*/                   BRA 0xc0 ;
                /*00d0*/                   NOP ;
        """;
        var (loop, whole) = IlgpuSass.HotLoop(sass);
        Assert.False(whole);
        Assert.Equal(5, loop.Instructions); // 0x20 … 0x60
        Assert.Equal(2, loop.Ffma);
        Assert.Equal(0.4, loop.FfmaShare, 12);
        Assert.Equal(new Dictionary<int, int> { [128] = 1, [32] = 1 }, loop.SharedLoads);
        Assert.Empty(loop.GlobalLoads);
        Assert.Equal(1, loop.Branches);
        var all = IlgpuSass.Mix(IlgpuSass.Instructions(sass).Select(i => i.Text));
        Assert.Equal(13, all.Instructions); // NOP excluded
        Assert.Equal(new Dictionary<int, int> { [128] = 1, [32] = 1 }, all.GlobalLoads);
        Assert.Equal(new Dictionary<int, int> { [64] = 1 }, all.GlobalStores);
        Assert.Equal(1, all.FloatOther);
        Assert.Equal("LDG.E", IlgpuSass.Mnemonic("@!P0 LDG.E R3, desc[UR4][R2.64]"));
        Assert.Equal(8, IlgpuSass.Width("LDG.E.U8.CONSTANT"));
        // ptxas's fallback for shuffles in a divergent warp sits after the final EXIT and jumps back over it: not a loop.
        // Without FFMA the hot loop is the one moving the most global bits (the float4 loop, not the longer scalar one).
        const string fallback = """
                /*0000*/                   LDG.E.128 R4, desc[UR4][R2.64] ;
                /*0010*/                   FADD R10, R4, R10 ;
                /*0020*/              @!P0 BRA 0x0 ;
                /*0030*/                   LDG.E R5, desc[UR4][R2.64] ;
                /*0040*/                   IADD3 R3, R3, 0x1, RZ ;
                /*0050*/                   IADD3 R6, R6, 0x1, RZ ;
                /*0060*/                   FADD R10, R5, R10 ;
                /*0070*/              @!P1 BRA 0x30 ;
                /*0080*/                   BRA.DIV UR4, 0xd0 ;
                /*0090*/                   SHFL.DOWN PT, R0, R10, 0x10, 0x1f ;
                /*00a0*/                   STG.E desc[UR4][R2.64], R0 ;
                /*00b0*/                   EXIT ;
                /*00c0*/                   BRA 0xc0 ;
                /*00d0*/                   WARPSYNC.COLLECTIVE R4, 0xe0 ;
                /*00e0*/                   SHFL.DOWN P0, R4, R3, R6, R9 ;
                /*00f0*/                   BRA 0xa0 ;
        """;
        var (hot, none) = IlgpuSass.HotLoop(fallback);
        Assert.False(none);
        Assert.Equal(3, hot.Instructions);
        Assert.Equal(new Dictionary<int, int> { [128] = 1 }, hot.GlobalLoads);
        // A kernel without a loop: the whole kernel (the BRA-to-itself after EXIT is not a loop).
        var (_, noLoop) = IlgpuSass.HotLoop("/*0000*/ LDG.E R3, desc[UR4][R2.64] ;\n/*0010*/ EXIT ;\n/*0020*/ BRA 0x20 ;\n");
        Assert.True(noLoop);
    }
}
