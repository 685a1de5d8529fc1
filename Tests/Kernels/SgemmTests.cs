using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Kernels.GemmTests;

namespace Engine.Tests.Kernels;

/// <summary>
/// The warp-tiled SGEMM (<see cref="IlgpuSgemmKernel"/>: 128-bit loads, double-buffered shared tiles, one compiled
/// kernel per transpose pair and activation) against the naive float64 loop of <see cref="GemmTests"/>, on shapes that
/// take it (<see cref="IlgpuBackend.CanUseSgemm"/>: the 4-float directions are multiples of 4 and views start at a
/// multiple of 4) and reach every edge: partial 128×128 tiles, the clamped loads of edge rows and columns, a k tail
/// after the last full BK = 8 slice, k &lt; 8 (tail only), k = 0, every activation, beta with and without a NaN C, and
/// offset views (aligned: fast path; unaligned: the general kernel). On the SIMD CPU device the same cases check the
/// CPU path. Tolerance as in <see cref="GemmTests"/>: rtol 1e-4 (the epilogue's float32 tanh/exp), atol 1e-5·√(k+1)
/// (float32 accumulation over k terms of size ≤ 1).
/// </summary>
public class SgemmTests
{
    private const double Rtol = 1e-4, AtolPerSqrtK = 1e-5;
    private static readonly Activation[] s_activations = [Activation.Identity, Activation.Relu, Activation.Tanh, Activation.Sigmoid];

    private static void Check(Backend<float> backend, string device, Case t, int seed)
    {
        var (a, b, c, bias) = Inputs(t, seed);
        var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
        Tolerance.AllClose(expected, RunFloat(backend, t, a, b, c, bias), Rtol, AtolPerSqrtK * Math.Sqrt(t.K + 1), $"{device} {t}");
    }

    private static bool FastPath(Case t, int offset = 0)
    {
        using var cpu = new Engine.Kernels.Cpu.CpuBackend<float>();
        using var buffer = cpu.Allocate<float>(offset + Math.Max(1, Math.Max(t.M * t.K, Math.Max(t.K * t.N, t.M * t.N))));
        View<float> View(int length) => buffer.View.Slice(offset, length);
        return IlgpuBackend.CanUseSgemm(t.TransA, t.TransB, t.M, t.N, t.K, View(t.M * t.K), View(t.K * t.N), View(t.M * t.N),
            t.Bias ? View(t.N) : default);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void All_transposes_match_the_float64_reference_across_tile_edges_and_k_tails(string device)
    {
        var backend = TestDevices.Get(device);
        // 132×136: a full 128 tile plus a 4-wide edge in m and n (clamped edge loads, skipped edge stores); k = 20: two
        // full slices and a tail of 4; k = 8: exactly one slice; k = 4: tail only; 260×12×36: three row tiles.
        (int m, int n, int k)[] shapes = [(4, 4, 4), (132, 136, 20), (12, 264, 8), (260, 12, 36)];
        int seed = 1700;
        foreach (var (m, n, k) in shapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                {
                    var t = new Case(transA, transB, m, n, k, 0.8, seed % 2 == 0 ? 0.0 : 0.6, seed % 3 != 0, s_activations[seed % 4]);
                    Assert.True(FastPath(t), $"{t} should take the fast SGEMM");
                    Check(backend, device, t, seed++);
                }
        // Both operands contiguous along the tile (A transposed, B not): any k works, here a tail of 5 after one slice.
        var odd = new Case(true, false, 132, 136, 13, 1, 0, true, Activation.Identity);
        Assert.True(FastPath(odd));
        Check(backend, device, odd, seed);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Every_activation_bias_and_beta_on_the_fast_path_and_beta_zero_never_reads_c(string device)
    {
        var backend = TestDevices.Get(device);
        int seed = 1800;
        foreach (var activation in s_activations)
            foreach (double beta in new[] { 0.0, 0.6 })
            {
                var t = new Case(false, true, 12, 136, 20, 1.5, beta, true, activation);
                Assert.True(FastPath(t));
                var (a, b, c, bias) = Inputs(t, seed++);
                if (beta == 0) Array.Fill(c, double.NaN); // must not be read
                var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, bias, activation);
                Assert.DoesNotContain(expected, double.IsNaN);
                Tolerance.AllClose(expected, RunFloat(backend, t, a, b, c, bias), Rtol, AtolPerSqrtK * Math.Sqrt(t.K + 1), $"{device} {t}");
            }
        // k = 0: C = act(beta·C + bias), nothing read from A or B.
        var empty = new Case(true, false, 8, 12, 0, 1, 0.5, true, Activation.Tanh);
        Assert.True(FastPath(empty));
        Check(backend, device, empty, seed);
    }

    /// <summary>Views inside one buffer: at offset 4 (16-byte aligned: the fast SGEMM) and at offset 1 (not: the general
    /// kernel); both give the reference, and the floats around C are untouched.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Offset_views_take_the_fast_path_only_when_aligned_and_both_paths_agree(string device)
    {
        var backend = TestDevices.Get(device);
        var t = new Case(false, false, 20, 24, 12, 1, 0.5, true, Activation.Relu);
        var (a, b, c, bias) = Inputs(t, 1900);
        var expected = Naive(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
        foreach (int offset in new[] { 4, 1 })
        {
            Assert.Equal(offset % 4 == 0, FastPath(t, offset));
            int span = offset + a.Length + b.Length + c.Length + bias!.Length + 4;
            var host = new float[span];
            Array.Fill(host, -7f);
            int ao = offset, bo = ao + a.Length, co = bo + b.Length, biasOffset = co + c.Length;
            Tolerance.ToFloat(a).CopyTo(host, ao); Tolerance.ToFloat(b).CopyTo(host, bo);
            Tolerance.ToFloat(c).CopyTo(host, co); Tolerance.ToFloat(bias).CopyTo(host, biasOffset);
            using var buffer = backend.Allocate<float>(host);
            var v = buffer.View;
            backend.Gemm(false, false, t.M, t.N, t.K, 1f, v.Slice(ao, a.Length), v.Slice(bo, b.Length), 0.5f, v.Slice(co, c.Length),
                v.Slice(biasOffset, bias.Length), t.Activation);
            var result = backend.ToArray(v);
            Tolerance.AllClose(expected, result.AsSpan(co, c.Length).ToArray(), Rtol, AtolPerSqrtK * Math.Sqrt(t.K + 1), $"{device} offset {offset}");
            Assert.Equal(host.AsSpan(0, co).ToArray(), result.AsSpan(0, co).ToArray());
            Assert.Equal(host.AsSpan(biasOffset).ToArray(), result.AsSpan(biasOffset).ToArray());
        }
    }
}
