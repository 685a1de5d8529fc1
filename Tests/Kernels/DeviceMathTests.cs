using Engine.Kernels;

namespace Engine.Tests.Kernels;

/// <summary>
/// <see cref="DeviceMath"/>, the float64 log, exp and cos(2πu) of the single-thread ILGPU kernels, against .NET's
/// <see cref="Math"/> (an independent implementation, correctly rounded to within an ulp): relative error ≤ 4·10⁻¹⁶
/// (about 2 ulps) over each function's range (cos: absolute, see its test), with the special values exact.
/// </summary>
public class DeviceMathTests
{
    private static IEnumerable<double> LogSpaced(double lo, double hi, int count) =>
        Enumerable.Range(0, count).Select(i => Math.Exp(Math.Log(lo) + (Math.Log(hi) - Math.Log(lo)) * i / (count - 1)));

    private static void Close(double expected, double actual, double rtol, string what) =>
        Assert.True(Math.Abs(actual - expected) <= rtol * Math.Abs(expected) + 1e-300,
            $"{what}: {actual:R} vs {expected:R} (relative {Math.Abs(actual - expected) / Math.Abs(expected):E2})");

    [Fact]
    public void Exp_matches_math_exp_from_the_subnormal_range_to_overflow()
    {
        var random = new Random(3);
        var xs = Enumerable.Range(0, 20_000).Select(_ => random.NextDouble() * 1400 - 700)
            .Concat(Enumerable.Range(0, 2_000).Select(_ => random.NextDouble() * 2 - 1)).Concat([0, 1, -1, 1e-300, 709.7, -708, -740]);
        foreach (double x in xs) Close(Math.Exp(x), DeviceMath.Exp(x), x < -708.3 ? 1e-3 : 4e-16, $"exp({x:R})"); // subnormal results keep fewer bits
        Assert.Equal(double.PositiveInfinity, DeviceMath.Exp(710));
        Assert.Equal(0.0, DeviceMath.Exp(-746));
        Assert.True(double.IsNaN(DeviceMath.Exp(double.NaN)));
        Assert.Equal(1.0, DeviceMath.Exp(0));
    }

    [Fact]
    public void Log_matches_math_log_over_every_binade_subnormals_included()
    {
        var random = new Random(4);
        var xs = LogSpaced(1e-310, 1e308, 30_000).Concat(Enumerable.Range(0, 5_000).Select(_ => 0.5 + random.NextDouble()))
            .Concat([1.0000000000000002, 0.9999999999999999, Math.Sqrt(2), 4.9e-324]);
        foreach (double x in xs)
        {
            double expected = Math.Log(x);
            // Near x = 1 the result is tiny and the test is on the absolute error (ln has no cancellation to hide there).
            Assert.True(Math.Abs(DeviceMath.Log(x) - expected) <= 4e-16 * Math.Abs(expected) + 2.3e-16 * Math.Abs(x - 1) + 1e-300,
                $"log({x:R}): {DeviceMath.Log(x):R} vs {expected:R}");
        }
        Assert.Equal(0.0, DeviceMath.Log(1));
        Assert.Equal(double.NegativeInfinity, DeviceMath.Log(0));
        Assert.Equal(double.PositiveInfinity, DeviceMath.Log(double.PositiveInfinity));
        Assert.True(double.IsNaN(DeviceMath.Log(-1)));
        Assert.True(double.IsNaN(DeviceMath.Log(double.NaN)));
    }

    [Fact]
    public void Cos2Pi_matches_math_cos_of_two_pi_u_to_the_rounding_of_its_argument()
    {
        // The reference Math.Cos(2π·u) first rounds its argument 2π·u (relative error 2⁻⁵³), which moves its result by up
        // to 2π·u·2⁻⁵³ ≈ 7·10⁻¹⁶·u: the comparison is on the absolute error, two ulps of 1 plus that.
        var random = new Random(5);
        var us = Enumerable.Range(0, 20_000).Select(_ => random.NextDouble()).Concat([0, 0.25, 0.5, 0.75, 1e-17, 0.125, 0.999999]);
        foreach (double u in us)
            Assert.True(Math.Abs(DeviceMath.Cos2Pi(u) - Math.Cos(2 * Math.PI * u)) <= 4e-16 + 7e-16 * u,
                $"cos(2π·{u:R}): {DeviceMath.Cos2Pi(u):R} vs {Math.Cos(2 * Math.PI * u):R}");
        Assert.Equal(1.0, DeviceMath.Cos2Pi(0));
        Assert.Equal(-1.0, DeviceMath.Cos2Pi(0.5));
    }

    [Fact]
    public void The_kernels_normals_match_the_cpu_normals_to_float64_rounding()
    {
        for (long step = 0; step < 200; step++)
            for (int i = 0; i < 5; i++)
            {
                double cpu = CounterRandom.Normal(11, step, i), device = CounterRandom.NormalOnDevice(11, step, i);
                Assert.True(Math.Abs(cpu - device) <= 1e-14 * Math.Max(1, Math.Abs(cpu)), $"step {step}, task {i}: {device:R} vs {cpu:R}");
            }
    }
}
