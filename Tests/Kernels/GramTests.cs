using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>The Gram-matrix and linear-combination kernels: float64 path vs naive loops, float32 devices vs float64, bad input.</summary>
public class GramTests
{
    private static readonly int[] Lengths = [1, 7, 33, 257, 1000, 5000];

    private static double[,] NaiveGram(double[] v, int count, int length, bool absolute)
    {
        var g = new double[count, count];
        for (int i = 0; i < count; i++)
            for (int j = 0; j < count; j++)
                for (int k = 0; k < length; k++)
                {
                    double p = v[i * length + k] * v[j * length + k];
                    g[i, j] += absolute ? Math.Abs(p) : p;
                }
        return g;
    }

    [Fact]
    public void Float64_gram_matches_a_naive_loop_over_odd_sizes_and_chunk_boundaries()
    {
        var backend = TestDevices.Reference;
        foreach (int count in new[] { 1, 2, 3, 5 })
            foreach (int length in Lengths.Append(8192).Append(8193).Append(20001))
            {
                var v = Tolerance.Random(count * length, seed: count * 1000 + length);
                using var vectors = backend.Allocate<double>(v);
                using var gram = backend.Allocate<double>(count * count);
                backend.Gram(vectors.View, count, length, gram.View);
                var expected = NaiveGram(v, count, length, absolute: false);
                Tolerance.AllClose(expected.Cast<double>().ToArray(), backend.ToArray(gram.View), rtol: 1e-12, atol: 1e-12 * length, $"gram T={count} P={length}");
            }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_gram_matches_float64(string device)
    {
        var backend = TestDevices.Get(device);
        var lengths = TestDevices.IsEmulated(device) ? Lengths : Lengths.Append(8193).Append(30000).ToArray();
        foreach (int count in new[] { 1, 3, 4 })
            foreach (int length in lengths)
            {
                var v32 = Tolerance.ToFloat(Tolerance.Random(count * length, seed: 7 * count + length));
                var v = Tolerance.ToDouble(v32);
                using var vectors = backend.Allocate<float>(v32);
                using var gram = backend.Allocate<float>(count * count);
                backend.Gram(vectors.View, count, length, gram.View);
                var actual = backend.ToArray(gram.View);
                var expected = NaiveGram(v, count, length, absolute: false);
                var scale = NaiveGram(v, count, length, absolute: true);
                // Tolerance: float32 accumulation error is bounded by ~n·ε·Σ|vᵢvⱼ|; pairwise/chunked sums do far better,
                // so 1e-5·Σ|vᵢ[k]vⱼ[k]| (ε = 6e-8) is a stated, comfortable bound.
                for (int i = 0; i < count; i++)
                    for (int j = 0; j < count; j++)
                    {
                        double diff = Math.Abs(actual[i * count + j] - expected[i, j]);
                        Assert.True(diff <= 1e-5 * scale[i, j] + 1e-7,
                            $"{device} T={count} P={length} gram[{i},{j}] = {actual[i * count + j]} vs {expected[i, j]} (|diff| {diff:E2})");
                    }
                AssertSymmetric(device, actual, count, length, scale);
            }
    }

    /// <summary>
    /// gram[i, j] against gram[j, i] for every pair i &lt; j (so only for T &gt; 1). The CPU path forms each pair once and
    /// writes that one value to both, so there they must be equal bit for bit. The ILGPU Gram kernel adds each group's
    /// partial sum into gram[i, j] and gram[j, i] with separate float atomics, whose order across G groups can differ
    /// (on a GPU): the two are the same G partials summed in different orders, so they may differ by up to about
    /// 2·(G − 1)·2⁻²⁴·Σ|vᵢ[k]vⱼ[k]|. With G ≤ 8 groups (4096 columns each, P ≤ 30000) that is below 1e-6·Σ|vᵢ[k]vⱼ[k]|,
    /// the stated tolerance (ten times tighter than the accuracy bound above, so it tests something of its own).
    /// </summary>
    private static void AssertSymmetric(string device, float[] actual, int count, int length, double[,] scale)
    {
        for (int i = 0; i < count; i++)
            for (int j = i + 1; j < count; j++)
            {
                float upper = actual[i * count + j], lower = actual[j * count + i];
                if (device == TestDevices.Cpu)
                    Assert.True(upper.Equals(lower), $"cpu T={count} P={length}: gram[{i},{j}] = {upper:R} but gram[{j},{i}] = {lower:R}");
                else
                    Assert.True(Math.Abs((double)upper - lower) <= 1e-6 * scale[i, j],
                        $"{device} T={count} P={length}: gram[{i},{j}] = {upper:R} vs gram[{j},{i}] = {lower:R}, beyond 1e-6·{scale[i, j]:G4}");
            }
    }

    [Fact]
    public void Float64_linear_combination_matches_a_naive_loop()
    {
        var backend = TestDevices.Reference;
        foreach (int count in new[] { 1, 2, 4 })
            foreach (int length in Lengths.Append(8193).Append(20001))
                foreach (bool accumulate in new[] { false, true })
                {
                    var v = Tolerance.Random(count * length, seed: length + count);
                    var a = Tolerance.Random(count, seed: 99 + count, lo: -2, hi: 2);
                    var o = Tolerance.Random(length, seed: 5);
                    using var vectors = backend.Allocate<double>(v);
                    using var coefficients = backend.Allocate<double>(a);
                    using var output = backend.Allocate<double>(o);
                    backend.LinearCombination(vectors.View, count, length, coefficients.View, output.View, accumulate);
                    var expected = new double[length];
                    for (int k = 0; k < length; k++)
                    {
                        expected[k] = accumulate ? o[k] : 0;
                        for (int i = 0; i < count; i++) expected[k] += a[i] * v[i * length + k];
                    }
                    Tolerance.AllClose(expected, backend.ToArray(output.View), rtol: 1e-14, atol: 1e-14, $"combination T={count} P={length} acc={accumulate}");
                }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_linear_combination_matches_float64(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int count in new[] { 1, 3, 4 })
            foreach (int length in Lengths)
                foreach (bool accumulate in new[] { false, true })
                {
                    var v32 = Tolerance.ToFloat(Tolerance.Random(count * length, seed: length * 3 + count));
                    var a32 = Tolerance.ToFloat(Tolerance.Random(count, seed: count, lo: -2, hi: 2));
                    var o32 = Tolerance.ToFloat(Tolerance.Random(length, seed: 11));
                    using var vectors = backend.Allocate<float>(v32);
                    using var coefficients = backend.Allocate<float>(a32);
                    using var output = backend.Allocate<float>(o32);
                    backend.LinearCombination(vectors.View, count, length, coefficients.View, output.View, accumulate);
                    var expected = new double[length];
                    for (int k = 0; k < length; k++)
                    {
                        expected[k] = accumulate ? o32[k] : 0;
                        for (int i = 0; i < count; i++) expected[k] += (double)a32[i] * v32[i * length + k];
                    }
                    // At most T+1 float32 roundings of terms of size ≤ 2: 1e-6 relative + 1e-6 absolute.
                    Tolerance.AllClose(expected, backend.ToArray(output.View), rtol: 1e-6, atol: 1e-6, $"{device} T={count} P={length} acc={accumulate}");
                }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Bad_shapes_are_rejected_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var vectors = backend.Allocate<float>(12);
        using var gram = backend.Allocate<float>(9);
        using var coefficients = backend.Allocate<float>(3);
        using var output = backend.Allocate<float>(4);
        var e1 = Assert.Throws<ArgumentException>(() => backend.Gram(vectors.View, 3, 5, gram.View));
        Assert.Equal("vectors", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => backend.Gram(vectors.View, 3, 4, gram.Slice(0, 4)));
        Assert.Equal("gram", e2.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.Gram(vectors.View, 0, 4, gram.View));
        var e3 = Assert.Throws<ArgumentException>(() => backend.LinearCombination(vectors.View, 3, 4, coefficients.Slice(0, 2), output.View, false));
        Assert.Equal("coefficients", e3.ParamName);
        var e4 = Assert.Throws<ArgumentException>(() => backend.LinearCombination(vectors.View, 3, 4, coefficients.View, output.Slice(0, 3), false));
        Assert.Equal("output", e4.ParamName);
        using var other = new Engine.Kernels.Cpu.CpuBackend<float>();
        using var foreign = other.Allocate<float>(9);
        Assert.Throws<ArgumentException>(() => backend.Gram(vectors.View, 3, 4, foreign.View));
    }
}
