using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The mixture-of-experts kernels (batched GEMM with epilogue, softmax over experts and its backward, the gated mixture
/// and its two backward kernels) on every float32 device against naive float64 loops written here, and the float64
/// CPU path against the same loops. Tolerances: float32 GEMM rtol 1e-4, atol 1e-5·√(k+1) (as the dense GEMM's tests);
/// softmax and mixture (sums of ≤ 40 products of values ≤ 1) rtol 1e-5, atol 1e-6; float64 rtol 1e-12.
/// </summary>
public class MixtureKernelTests
{
    private static double F(Activation a, double z) => a switch
    {
        Activation.Relu => Math.Max(0, z),
        Activation.Tanh => Math.Tanh(z),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-z)),
        _ => z,
    };

    private static double[] BatchedGemmReference(bool ta, bool tb, int m, int n, int k, double alpha, double[] a, int sa, double[] b, int sb,
        double beta, double[] c, int sc, int count, double[]? bias, int sbias, Activation act)
    {
        var result = (double[])c.Clone();
        for (int e = 0; e < count; e++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (ta ? a[e * sa + p * m + i] : a[e * sa + i * k + p]) * (tb ? b[e * sb + j * k + p] : b[e * sb + p * n + j]);
                    int at = e * sc + i * n + j;
                    result[at] = F(act, alpha * s + (beta == 0 ? 0 : beta * c[at]) + (bias is null ? 0 : bias[e * sbias + j]));
                }
        return result;
    }

    public static TheoryData<string, bool, bool, bool> GemmCases()
    {
        var data = new TheoryData<string, bool, bool, bool>();
        foreach (var device in TestDevices.Float32)
            foreach (var (ta, tb, sharedA) in new[] { (false, true, true), (false, true, false), (true, false, false), (false, false, false), (true, true, false) })
                data.Add(device, ta, tb, sharedA);
        return data;
    }

    [Theory]
    [MemberData(nameof(GemmCases))]
    public void Batched_gemm_matches_float64_loops(string device, bool transA, bool transB, bool sharedA)
    {
        var backend = TestDevices.Get(device);
        bool small = TestDevices.IsEmulated(device);
        int count = 3, m = small ? 7 : 33, n = small ? 5 : 40, k = small ? 9 : 65;
        int sa = sharedA ? 0 : m * k + 3, sb = k * n + 1, sc = m * n + 2, sbias = n + 4;  // gaps between problems
        var a = Tolerance.Random(sharedA ? m * k : (count - 1) * sa + m * k, 1);
        var b = Tolerance.Random((count - 1) * sb + k * n, 2);
        var c = Tolerance.Random((count - 1) * sc + m * n, 3);
        var bias = Tolerance.Random((count - 1) * sbias + n, 4);
        foreach (var (act, beta, withBias) in new[] { (Activation.Identity, 0.0, false), (Activation.Relu, 0.5, true), (Activation.Tanh, 1.0, true), (Activation.Sigmoid, 0.0, true) })
        {
            var expected = BatchedGemmReference(transA, transB, m, n, k, 1.5, a, sa, b, sb, beta, c, sc, count, withBias ? bias : null, sbias, act);
            using var da = backend.Allocate<float>(Tolerance.ToFloat(a));
            using var db = backend.Allocate<float>(Tolerance.ToFloat(b));
            using var dc = backend.Allocate<float>(Tolerance.ToFloat(c));
            using var dbias = backend.Allocate<float>(Tolerance.ToFloat(bias));
            backend.BatchedGemm(transA, transB, m, n, k, 1.5f, da.View, sa, db.View, sb, (float)beta, dc.View, sc, count,
                withBias ? dbias.View : default, sbias, act);
            Tolerance.AllClose(expected, backend.ToArray(dc.View), 1e-4, 1e-5 * Math.Sqrt(k + 1), $"{device} {act} β={beta}");
        }
        // The gaps between the outputs are left alone (checked above: expected keeps c there).

        var r = TestDevices.Reference;
        using var ra = r.Allocate<double>(a);
        using var rb = r.Allocate<double>(b);
        using var rc = r.Allocate<double>(c);
        using var rbias = r.Allocate<double>(bias);
        r.BatchedGemm(transA, transB, m, n, k, 1.5, ra.View, sa, rb.View, sb, 0.5, rc.View, sc, count, rbias.View, sbias, Activation.Tanh);
        Tolerance.AllClose(BatchedGemmReference(transA, transB, m, n, k, 1.5, a, sa, b, sb, 0.5, c, sc, count, bias, sbias, Activation.Tanh),
            r.ToArray(rc.View), 1e-12, 1e-14, "float64");
    }

    public static TheoryData<string, bool, bool> TiledCases()
    {
        var data = new TheoryData<string, bool, bool>();
        foreach (var device in TestDevices.Float32)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    data.Add(device, ta, tb);
        return data;
    }

    /// <summary>
    /// The batched GEMM on the warp-tiled SGEMM (<c>IlgpuSgemmKernel</c>, grid z = problem): shapes and strides in
    /// multiples of 4 floats, so every problem is 16-byte aligned and <see cref="Engine.Kernels.Ilgpu.IlgpuBackend.CanUseSgemm"/>
    /// holds. 132×136 crosses a 128-tile edge in m and n (clamped edge loads, skipped edge stores) and k = 20 leaves a
    /// tail of 4 after two BK = 8 slices; A is shared by all problems (stride 0, as the experts' common input) or not; the
    /// gaps between problems' outputs must stay untouched; β = 0 must not read C (NaN there). Same tolerance as above.
    /// </summary>
    [Theory]
    [MemberData(nameof(TiledCases))]
    public void Batched_gemm_on_the_tiled_kernel_matches_float64_across_tile_edges_k_tails_and_strides(string device, bool transA, bool transB)
    {
        var backend = TestDevices.Get(device);
        bool small = TestDevices.IsEmulated(device);
        int count = 3, m = small ? 12 : 132, n = small ? 8 : 136, k = small ? 12 : 20;
        foreach (bool sharedA in new[] { true, false })
        {
            int sa = sharedA ? 0 : m * k + 4, sb = k * n + 8, sc = m * n + 4, sbias = n + 4;
            using (var probe = backend.Allocate<float>(1))
                Assert.True(Engine.Kernels.Ilgpu.IlgpuBackend.CanUseSgemm(transA, transB, m, n, k, probe.View.Slice(0, 0), default, probe.View.Slice(0, 0), default)
                    && (sa | sb | sc | sbias) % 4 == 0, "the case must take the tiled kernel");
            var a = Tolerance.Random(sharedA ? m * k : (count - 1) * sa + m * k, 21);
            var b = Tolerance.Random((count - 1) * sb + k * n, 22);
            var c = Tolerance.Random((count - 1) * sc + m * n, 23);
            var bias = Tolerance.Random((count - 1) * sbias + n, 24);
            foreach (var (act, beta, withBias) in new[] { (Activation.Relu, 0.0, true), (Activation.Identity, 0.5, false), (Activation.Sigmoid, 1.0, true) })
            {
                var expected = BatchedGemmReference(transA, transB, m, n, k, 0.75, a, sa, b, sb, beta, c, sc, count, withBias ? bias : null, sbias, act);
                var cInput = Tolerance.ToFloat(c);
                if (beta == 0)
                    for (int e = 0; e < count; e++) cInput.AsSpan(e * sc, m * n).Fill(float.NaN); // β = 0: C is not read
                using var da = backend.Allocate<float>(Tolerance.ToFloat(a));
                using var db = backend.Allocate<float>(Tolerance.ToFloat(b));
                using var dc = backend.Allocate<float>(cInput);
                using var dbias = backend.Allocate<float>(Tolerance.ToFloat(bias));
                backend.BatchedGemm(transA, transB, m, n, k, 0.75f, da.View, sa, db.View, sb, (float)beta, dc.View, sc, count,
                    withBias ? dbias.View : default, sbias, act);
                Tolerance.AllClose(expected, backend.ToArray(dc.View), 1e-4, 1e-5 * Math.Sqrt(k + 1), $"{device} shared A {sharedA} {act} β={beta}");
            }
        }
    }

    /// <summary>k = 0: every output is act(β·C + bias) (an empty sum), on both paths, with or without operands.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Batched_gemm_with_k_zero_is_the_epilogue_alone(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int n in new[] { 8, 5 }) // 8: the tiled kernel; 5: the general one
        {
            int count = 2, m = 4, sc = m * n + 4, sbias = n + 4;
            var c = Tolerance.Random((count - 1) * sc + m * n, 31);
            var bias = Tolerance.Random((count - 1) * sbias + n, 32);
            var expected = BatchedGemmReference(false, true, m, n, 0, 2.0, [], 0, [], 0, 0.5, c, sc, count, bias, sbias, Activation.Tanh);
            using var dc = backend.Allocate<float>(Tolerance.ToFloat(c));
            using var dbias = backend.Allocate<float>(Tolerance.ToFloat(bias));
            backend.BatchedGemm(false, true, m, n, 0, 2f, default, 0, default, 0, 0.5f, dc.View, sc, count, dbias.View, sbias, Activation.Tanh);
            Tolerance.AllClose(expected, backend.ToArray(dc.View), 1e-6, 1e-6, $"{device} n={n} k=0");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Softmax_rows_and_backward_match_float64_and_survive_large_logits(string device)
    {
        var backend = TestDevices.Get(device);
        int rows = TestDevices.IsEmulated(device) ? 9 : 257, cols = 7;
        var x = Tolerance.Random(rows * cols, 5, -4, 4);
        x[0] = 1000; x[1] = 999; x[cols] = -1000;            // exp(1000) overflows unless max-shifted
        var dy = Tolerance.Random(rows * cols, 6);
        var dx0 = Tolerance.Random(rows * cols, 7);
        var y = new double[rows * cols];
        var dx = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            double max = x.AsSpan(r * cols, cols).ToArray().Max(), sum = 0;
            for (int j = 0; j < cols; j++) sum += Math.Exp(x[r * cols + j] - max);
            for (int j = 0; j < cols; j++) y[r * cols + j] = Math.Exp(x[r * cols + j] - max) / sum;
            double inner = 0;
            for (int j = 0; j < cols; j++) inner += dy[r * cols + j] * y[r * cols + j];
            for (int j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - inner);
        }
        Assert.Equal(1 / (1 + Math.Exp(-1)), y[0], 1e-15);

        using var dX = backend.Allocate<float>(Tolerance.ToFloat(x));
        using var dY = backend.Allocate<float>(rows * cols);
        backend.SoftmaxRows(dX.View, rows, cols, dY.View);
        var got = backend.ToArray(dY.View);
        Tolerance.AllClose(y, got, 1e-5, 1e-6, $"{device} softmax");
        using var up = backend.Allocate<float>(Tolerance.ToFloat(dy));
        using var grad = backend.Allocate<float>(Tolerance.ToFloat(dx0));
        var yf = Tolerance.ToDouble(got);
        backend.SoftmaxRowsBackward(dY.View, up.View, rows, cols, grad.View, accumulate: false);
        Tolerance.AllClose(dx, backend.ToArray(grad.View), 1e-5, 1e-6, $"{device} softmax backward");
        backend.SoftmaxRowsBackward(dY.View, up.View, rows, cols, grad.View, accumulate: true);
        Tolerance.AllClose(dx.Select(v => 2 * v).ToArray(), backend.ToArray(grad.View), 1e-5, 1e-6, $"{device} softmax backward, accumulated");
        Assert.All(Enumerable.Range(0, rows), r => Assert.Equal(1.0, yf.AsSpan(r * cols, cols).ToArray().Sum(), 1e-5));

        var reference = TestDevices.Reference;
        using var rx = reference.Allocate<double>(x);
        using var ry = reference.Allocate<double>(rows * cols);
        reference.SoftmaxRows(rx.View, rows, cols, ry.View);
        Tolerance.AllClose(y, reference.ToArray(ry.View), 1e-12, 1e-15, "float64 softmax");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Mixture_and_its_backward_match_float64_loops(string device)
    {
        var backend = TestDevices.Get(device);
        int experts = 5, batch = TestDevices.IsEmulated(device) ? 6 : 65, width = TestDevices.IsEmulated(device) ? 9 : 40;
        var x = Tolerance.Random(experts * batch * width, 8);
        var g = Tolerance.Random(batch * experts, 9, 0, 1);
        var dy = Tolerance.Random(batch * width, 10);
        var dx0 = Tolerance.Random(x.Length, 11);
        var dg0 = Tolerance.Random(g.Length, 12);
        var y = new double[batch * width];
        var dx = new double[x.Length];
        var dg = new double[g.Length];
        for (int e = 0; e < experts; e++)
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < width; h++)
                {
                    int xi = (e * batch + b) * width + h;
                    y[b * width + h] += g[b * experts + e] * x[xi];
                    dx[xi] = g[b * experts + e] * dy[b * width + h];
                    dg[b * experts + e] += dy[b * width + h] * x[xi];
                }
        using var X = backend.Allocate<float>(Tolerance.ToFloat(x));
        using var G = backend.Allocate<float>(Tolerance.ToFloat(g));
        using var DY = backend.Allocate<float>(Tolerance.ToFloat(dy));
        using var Y = backend.Allocate<float>(Tolerance.ToFloat(Tolerance.Random(y.Length, 13))); // overwritten
        using var DX = backend.Allocate<float>(Tolerance.ToFloat(dx0));
        using var DG = backend.Allocate<float>(Tolerance.ToFloat(dg0));
        backend.Mixture(X.View, G.View, experts, batch, width, Y.View);
        Tolerance.AllClose(y, backend.ToArray(Y.View), 1e-5, 1e-6, $"{device} mixture");
        backend.MixtureBackwardExperts(G.View, DY.View, experts, batch, width, DX.View, accumulate: true);
        Tolerance.AllClose(dx.Zip(dx0, (a, b) => a + b).ToArray(), backend.ToArray(DX.View), 1e-5, 1e-6, $"{device} dx accumulated");
        backend.MixtureBackwardExperts(G.View, DY.View, experts, batch, width, DX.View, accumulate: false);
        Tolerance.AllClose(dx, backend.ToArray(DX.View), 1e-5, 1e-6, $"{device} dx");
        backend.MixtureBackwardGates(X.View, DY.View, experts, batch, width, DG.View, accumulate: true);
        Tolerance.AllClose(dg.Zip(dg0, (a, b) => a + b).ToArray(), backend.ToArray(DG.View), 1e-5, 1e-5, $"{device} dg accumulated");
        backend.MixtureBackwardGates(X.View, DY.View, experts, batch, width, DG.View, accumulate: false);
        Tolerance.AllClose(dg, backend.ToArray(DG.View), 1e-5, 1e-5, $"{device} dg");

        var r = TestDevices.Reference;
        using var rx = r.Allocate<double>(x);
        using var rg = r.Allocate<double>(g);
        using var ry = r.Allocate<double>(y.Length);
        r.Mixture(rx.View, rg.View, experts, batch, width, ry.View);
        Tolerance.AllClose(y, r.ToArray(ry.View), 1e-12, 1e-14, "float64 mixture");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Bad_shapes_name_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var a = backend.Allocate<float>(12);
        using var b = backend.Allocate<float>(12);
        using var c = backend.Allocate<float>(12);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.BatchedGemm(false, false, 2, 2, 3, 1, a.View, 6, b.View, 6, 0, c.View, 3, 2));
        Assert.Equal("strideC", e.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => backend.BatchedGemm(false, false, 2, 2, 3, 1, a.View, 8, b.View, 6, 0, c.View, 4, 2));
        Assert.Contains("A", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => backend.Mixture(a.View, b.View, 3, 2, 2, c.View));
        Assert.Contains("g", e3.Message);
        Assert.Throws<ArgumentException>(() => backend.SoftmaxRowsBackward(a.View, b.View, 3, 4, a.View, false));
    }
}
