using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// DivideByCount (y[i, ·] = x[i, ·]/cᵢ, 0 where cᵢ = 0: the data-parallel exchange's division by the global labelled
/// counts, maths §20) on every float32 device against a float64 loop written here, and its refusals.
/// </summary>
public class DivideByCountTests
{
    /// <summary>Rows of several widths, counts that are whole numbers (as labelled counts are) including 0: the float32
    /// result is the exactly rounded quotient, so |err| ≤ 2⁻²⁴·|y| (tolerance 1e-7 relative); a zero count gives 0.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_the_float64_loop_and_a_zero_count_gives_zero(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (var (rows, width) in new[] { (1, 1), (3, 1), (4, 257), (2, 1000) })
        {
            float[] x = Tolerance.ToFloat(Tolerance.Random(rows * width, seed: 40 + width, lo: -50, hi: 50));
            float[] c = [.. Enumerable.Range(0, rows).Select(i => i == 1 ? 0f : 3f * i + 1f)];
            if (rows > 2) x[width] = float.PositiveInfinity;          // a zero count wins over any value: still 0
            var expected = new double[x.Length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < width; j++)
                    expected[i * width + j] = c[i] == 0 ? 0 : (double)x[i * width + j] / c[i];
            using var xs = backend.Allocate<float>(x);
            using var cs = backend.Allocate<float>(c);
            using var ys = backend.Allocate<float>(x.Length);
            backend.DivideByCount(xs.View, cs.View, ys.View);
            Tolerance.AllClose(expected, Array.ConvertAll(backend.ToArray(ys.View), v => (double)v), rtol: 1e-7, atol: 0, what: $"{rows}×{width}");
            backend.DivideByCount(xs.View, cs.View, xs.View);        // in place
            Assert.Equal(backend.ToArray(ys.View), backend.ToArray(xs.View));
        }
    }

    [Fact]
    public void Float64_path_matches_the_loop()
    {
        var cpu = TestDevices.Reference;
        double[] x = [1, 2, 3, 4, 5, 6];
        using var xs = cpu.Allocate<double>(x);
        using var cs = cpu.Allocate<double>([2, 0, 4]);
        using var ys = cpu.Allocate<double>(6);
        cpu.DivideByCount(xs.View, cs.View, ys.View);
        Assert.Equal([0.5, 1, 0, 0, 1.25, 1.5], cpu.ToArray(ys.View));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Bad_shapes_and_overlaps_are_refused(string device)
    {
        var backend = TestDevices.Get(device);
        using var x = backend.Allocate<float>(6);
        using var c = backend.Allocate<float>(4);
        var e = Assert.Throws<ArgumentException>(() => backend.DivideByCount(x.View, c.View, x.View));
        Assert.Contains("not a whole number of rows", e.Message);
        using var both = backend.Allocate<float>(8);
        Assert.Throws<ArgumentException>(() => backend.DivideByCount(both.Slice(0, 6), both.Slice(5, 2), both.Slice(0, 6)));
    }
}
