using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Tests.Infrastructure;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Engine.Tests.Kernels;

/// <summary>
/// GEMM <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c> against a naive float64 triple loop written here:
/// the float64 CPU path (blocked, packed, SIMD, threaded) to near machine precision, and every float32
/// device (SIMD CPU, ILGPU's CPU accelerator, CUDA when present) within a stated float32 tolerance.
/// </summary>
public class GemmTests
{
    private static readonly Activation[] s_activations = [Activation.Identity, Activation.Relu, Activation.Tanh, Activation.Sigmoid];

    /// <summary>The textbook definition, one dot product per output, in float64.</summary>
    internal static double[] Naive(bool transA, bool transB, int m, int n, int k, double alpha, double[] a, double[] b,
        double beta, double[] c, double[]? bias, Activation activation)
    {
        var result = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double dot = 0;
                for (int p = 0; p < k; p++)
                    dot += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                double v = alpha * dot + (beta == 0 ? 0 : beta * c[i * n + j]) + (bias is null ? 0 : bias[j]);
                result[i * n + j] = activation switch
                {
                    Activation.Relu => Math.Max(v, 0),
                    Activation.Tanh => Math.Tanh(v),
                    Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
                    _ => v,
                };
            }
        return result;
    }

    internal sealed record Case(bool TransA, bool TransB, int M, int N, int K, double Alpha, double Beta, bool Bias, Activation Activation)
    {
        public override string ToString() =>
            $"{(TransA ? 'T' : 'N')}{(TransB ? 'T' : 'N')} m={M} n={N} k={K} alpha={Alpha} beta={Beta} bias={Bias} {Activation}";
    }

    /// <summary>Inputs rounded to float32 (so float32 devices and the reference see identical numbers).</summary>
    internal static (double[] a, double[] b, double[] c, double[]? bias) Inputs(Case t, int seed)
    {
        static double[] Rounded(int length, int seed) => Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(length, seed)));
        return (Rounded(t.M * t.K, seed), Rounded(t.K * t.N, seed + 1), Rounded(t.M * t.N, seed + 2), t.Bias ? Rounded(t.N, seed + 3) : null);
    }

    internal static double[] RunDouble(Case t, double[] a, double[] b, double[] c, double[]? bias)
    {
        var cpu = TestDevices.Reference;
        using var da = cpu.Allocate<double>(a);
        using var db = cpu.Allocate<double>(b);
        using var dc = cpu.Allocate<double>(c);
        using var dbias = bias is null ? null : cpu.Allocate<double>(bias);
        cpu.Gemm(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, da.View, db.View, t.Beta, dc.View, dbias?.View ?? default, t.Activation);
        return cpu.ToArray(dc.View);
    }

    internal static float[] RunFloat(Backend<float> backend, Case t, double[] a, double[] b, double[] c, double[]? bias)
    {
        using var da = backend.Allocate<float>(Tolerance.ToFloat(a));
        using var db = backend.Allocate<float>(Tolerance.ToFloat(b));
        using var dc = backend.Allocate<float>(Tolerance.ToFloat(c));
        using var dbias = bias is null ? null : backend.Allocate<float>(Tolerance.ToFloat(bias));
        backend.Gemm(t.TransA, t.TransB, t.M, t.N, t.K, (float)t.Alpha, da.View, db.View, (float)t.Beta, dc.View, dbias?.View ?? default, t.Activation);
        return backend.ToArray(dc.View);
    }

    /// <summary>Shapes that exercise every edge of the blocking: 1×1×1, partial micro-tiles (7, 33),
    /// several k-blocks (k = 257 &gt; KC = 256), several row blocks (m = 150 &gt; MC), n &gt; NC for double
    /// (2050 &gt; 2048), and the threaded paths (m·n·k ≥ 10⁶): shared B̃ with row blocks (m ≥ 48), also with
    /// several k-blocks and several column blocks, and column slabs (m &lt; 48).</summary>
    public static TheoryData<int, int, int> DoubleShapes => new()
    {
        { 1, 1, 1 }, { 7, 33, 257 }, { 33, 7, 1 }, { 6, 16, 5 }, { 150, 9, 40 }, { 3, 2050, 5 },
        { 70, 150, 100 }, { 131, 97, 100 }, { 60, 70, 300 }, { 50, 2100, 10 }, { 20, 600, 100 },
    };

    [Theory]
    [MemberData(nameof(DoubleShapes))]
    public void Float64_cpu_matches_the_naive_loop_for_all_transposes(int m, int n, int k)
    {
        int seed = 1;
        foreach (bool transA in new[] { false, true })
            foreach (bool transB in new[] { false, true })
            {
                // Plain product, then the full epilogue with a different activation per transpose pair.
                var activation = s_activations[(transA ? 2 : 0) + (transB ? 1 : 0)];
                foreach (var t in new[] { new Case(transA, transB, m, n, k, 1, 0, false, Activation.Identity),
                                          new Case(transA, transB, m, n, k, 0.7, -0.3, true, activation) })
                {
                    var (a, b, c, bias) = Inputs(t, seed++);
                    var expected = Naive(t.TransA, t.TransB, m, n, k, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
                    // float64 accumulation in a different order: error ~ eps·√k·|terms|.
                    Tolerance.AllClose(expected, RunDouble(t, a, b, c, bias), rtol: 1e-12, atol: 1e-13 * Math.Sqrt(k + 1), t.ToString());
                }
            }
    }


    [Fact]
    public void Float64_cpu_applies_every_activation_with_bias_alpha_and_beta()
    {
        int seed = 100;
        foreach (var activation in s_activations)
            foreach (var (alpha, beta) in new[] { (1.0, 1.0), (2.5, 0.0), (-0.5, 0.75) })
            {
                var t = new Case(false, true, 13, 21, 300, alpha, beta, true, activation);
                var (a, b, c, bias) = Inputs(t, seed++);
                var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, alpha, a, b, beta, c, bias, activation);
                Tolerance.AllClose(expected, RunDouble(t, a, b, c, bias), 1e-12, 1e-13 * Math.Sqrt(t.K + 1), t.ToString());
            }
    }

    [Fact]
    public void Float64_k_zero_gives_the_activation_of_beta_c_plus_bias()
    {
        var t = new Case(false, true, 5, 9, 0, 1, 0.5, true, Activation.Tanh);
        var (a, b, c, bias) = Inputs(t, 7);
        var expected = new double[t.M * t.N];
        for (int i = 0; i < t.M; i++)
            for (int j = 0; j < t.N; j++) expected[i * t.N + j] = Math.Tanh(0.5 * c[i * t.N + j] + bias![j]);
        Tolerance.AllClose(expected, RunDouble(t, a, b, c, bias), 1e-15, 1e-15, t.ToString());
    }

    [Fact]
    public void Float64_dense_layer_shapes_match_the_naive_loop()
    {
        // Y = X·Wᵀ + b (NT), dX = dY·W (NN), dW += dYᵀ·X (TN, beta = 1) for a 48→40 layer on a batch of 30.
        int batch = 30, inputs = 48, outputs = 40, seed = 200;
        foreach (var t in new[]
        {
            new Case(false, true, batch, outputs, inputs, 1, 0, true, Activation.Relu),
            new Case(false, false, batch, inputs, outputs, 1, 0, false, Activation.Identity),
            new Case(true, false, outputs, inputs, batch, 1, 1, false, Activation.Identity),
        })
        {
            var (a, b, c, bias) = Inputs(t, seed++);
            var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
            Tolerance.AllClose(expected, RunDouble(t, a, b, c, bias), 1e-12, 1e-13 * Math.Sqrt(t.K + 1), t.ToString());
        }
    }

    /// <summary>float32 tolerance: inputs are in [−1, 1], so each output sums k terms of size ≤ 1 and its
    /// rounding error grows like eps₃₂·√k (≈ 6e-8·√k); atol = 1e-5·√(k+1) leaves a wide margin, and rtol
    /// 1e-4 covers the epilogue's float32 tanh/exp.</summary>
    private const double Rtol32 = 1e-4, Atol32PerSqrtK = 1e-5;

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_the_float64_reference_for_all_transposes(string device)
    {
        var backend = TestDevices.Get(device);
        // The ILGPU CPU accelerator emulates every GPU thread: keep its work small. 130×129 spans 2×2
        // groups of the kernel's 128×128 tiles (with ragged edges); k = 33 spans five BK = 8 slices. The sizes the
        // other devices see also appear here, each with the other dimensions small: n = 1000 is eight tiles wide with a
        // ragged last one, m = 257 three tiles tall (one row in the last), k = 257 ends on a one-element BK slice.
        (int m, int n, int k)[] shapes = TestDevices.IsEmulated(device)
            ? [(1, 1, 1), (7, 33, 17), (65, 70, 33), (130, 129, 9), (1, 1000, 7), (257, 7, 33), (7, 33, 257)]
            : [(1, 1, 1), (7, 33, 257), (33, 257, 1000), (130, 131, 70)];
        int seed = 300;
        foreach (var (m, n, k) in shapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    var activation = s_activations[seed % 4];
                    var t = new Case(transA, transB, m, n, k, 0.8, seed % 2 == 0 ? 0.0 : 0.6, seed % 3 != 0, activation);
                    var (a, b, c, bias) = Inputs(t, seed++);
                    var expected = Naive(t.TransA, t.TransB, m, n, k, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
                    Tolerance.AllClose(expected, RunFloat(backend, t, a, b, c, bias), Rtol32, Atol32PerSqrtK * Math.Sqrt(k + 1), $"{device} {t}");
                }
    }

    /// <summary>
    /// The float32 CPU path packs rows of A and rows of W (transposed B) eight p at a time through an 8×8 register
    /// transpose, writing the zero padding itself. Every edge of that: m = 1…13 (partial MR = 6 panels), n = 1…33
    /// (partial NR = 16 panels), k = 1…17 and 263 (tails of 8 and of KC = 256), all four transposes, against the
    /// float64 loop with the float32 tolerance above. C starts as NaN with beta = 0, so any padding lane that
    /// leaked into C would show.
    /// </summary>
    [Fact]
    public void Float32_cpu_vectorized_packing_handles_every_panel_and_tail_edge()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        int seed = 900;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (5, 17, 8), (6, 16, 9), (7, 15, 16), (12, 31, 17), (13, 33, 263), (2, 3, 7), (11, 1, 24) })
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    var t = new Case(transA, transB, m, n, k, 1, 0, false, Activation.Identity);
                    var (a, b, c, bias) = Inputs(t, seed++);
                    Array.Fill(c, double.NaN);
                    var expected = Naive(t.TransA, t.TransB, m, n, k, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
                    Tolerance.AllClose(expected, RunFloat(backend, t, a, b, c, bias), Rtol32, Atol32PerSqrtK * Math.Sqrt(k + 1), $"cpu {t}");
                }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_every_activation_with_bias(string device)
    {
        var backend = TestDevices.Get(device);
        int seed = 400;
        foreach (var activation in s_activations)
        {
            var t = new Case(false, true, 9, 67, 40, 1.5, 0.25, true, activation);
            var (a, b, c, bias) = Inputs(t, seed++);
            var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, bias, activation);
            Tolerance.AllClose(expected, RunFloat(backend, t, a, b, c, bias), Rtol32, Atol32PerSqrtK * Math.Sqrt(t.K + 1), $"{device} {t}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Beta_zero_never_reads_c_even_when_it_holds_nan(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (var (m, n, k) in new[] { (7, 19, 5), (20, 33, 0) })
        {
            var t = new Case(true, false, m, n, k, 1, 0, true, Activation.Identity);
            var (a, b, _, bias) = Inputs(t, 500 + k);
            var garbage = Enumerable.Repeat(double.NaN, m * n).ToArray();
            var expected = Naive(t.TransA, t.TransB, m, n, k, 1, a, b, 0, garbage, bias, t.Activation);
            Assert.DoesNotContain(expected, double.IsNaN);
            Tolerance.AllClose(expected, RunFloat(backend, t, a, b, garbage, bias), Rtol32, Atol32PerSqrtK * Math.Sqrt(k + 1), $"{device} {t}");
            Tolerance.AllClose(expected, RunDouble(t, a, b, garbage, bias), 1e-12, 1e-13 * Math.Sqrt(k + 1), $"float64 {t}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Wrong_shapes_throw_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(6);   // 2×3
        using var b = backend.Allocate<float>(12);  // 3×4
        using var c = backend.Allocate<float>(8);   // 2×4
        using var bias = backend.Allocate<float>(4);
        using var wrong = backend.Allocate<float>(5);
        void Gemm(View<float> av, View<float> bv, View<float> cv, View<float> biasv) =>
            backend.Gemm(false, false, 2, 4, 3, 1f, av, bv, 0f, cv, biasv);

        Gemm(a.View, b.View, c.View, bias.View); // the right shapes work
        Assert.Equal("A", Assert.Throws<ArgumentException>(() => Gemm(wrong.View, b.View, c.View, bias.View)).ParamName);
        Assert.Equal("B", Assert.Throws<ArgumentException>(() => Gemm(a.View, wrong.View, c.View, bias.View)).ParamName);
        Assert.Equal("C", Assert.Throws<ArgumentException>(() => Gemm(a.View, b.View, wrong.View, bias.View)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Gemm(a.View, b.View, c.View, wrong.View)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.Gemm(false, false, -1, 4, 3, 1f, a.View, b.View, 0f, c.View));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.Gemm(false, false, 2, 4, 3, 1f, a.View, b.View, 0f, c.View, default, (Activation)42));
    }

    /// <summary>Without a GPU, ILGPU's PTX backend still compiles the kernel for an H100 (sm_90): this checks the
    /// kernel is valid CUDA code, and that it is what it claims — shared tiles, barriers, 64 multiply-adds per k step and no
    /// local-memory (spilled) accumulators.</summary>
    [Fact]
    public void Ilgpu_kernel_compiles_to_ptx_for_an_h100_with_shared_tiles_and_register_accumulators()
    {
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!); // no NVVM: ILGPU's own maths
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(typeof(IlgpuGemmKernel).GetMethod(nameof(IlgpuGemmKernel.Run))!);
        var specialization = KernelSpecialization.Empty;
        var ptx = ((PTXCompiledKernel)backend.Compile(entry, specialization)).PTXAssembly;
        Assert.Contains(".target sm_", ptx);
        Assert.Contains(".shared", ptx);
        Assert.Contains("bar.sync", ptx);
        Assert.DoesNotContain(".local", ptx);
        // The fused tanh is the elementwise kernel's accurate one, not PTX's tanh.approx.f32 (relative error ~2⁻¹¹).
        Assert.DoesNotContain("tanh.approx", ptx);
        // ILGPU emits acc += a·b as mul.f32 + add.f32 without a rounding suffix, which ptxas contracts to FFMA.
        int multiplies = ptx.Split("mul.f32").Length - 1;
        Assert.True(multiplies >= IlgpuGemmKernel.TM * IlgpuGemmKernel.TN, $"expected the 8×8 register block's 64 multiply-adds in the PTX, found {multiplies}");
    }
}
