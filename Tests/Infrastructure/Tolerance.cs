using Engine.Kernels;

namespace Engine.Tests.Infrastructure;

/// <summary>Comparisons with a stated tolerance: |actual − expected| ≤ atol + rtol·|expected| (numpy's allclose).</summary>
public static class Tolerance
{
    /// <summary>Asserts every element is close, naming the first index that is not.</summary>
    public static void AllClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol, double atol, string what = "value")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {a:R} (|diff| {Math.Abs(a - e):E3} > atol {atol:E1} + rtol {rtol:E1}·|expected|)");
        }
    }

    /// <summary>Asserts every element is close (double vs double).</summary>
    public static void AllClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double rtol, double atol, string what = "value")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: expected {e:R}, got {a:R} (|diff| {Math.Abs(a - e):E3} > atol {atol:E1} + rtol {rtol:E1}·|expected|)");
        }
    }

    /// <summary>Seeded random values in [lo, hi).</summary>
    public static double[] Random(int length, int seed, double lo = -1, double hi = 1)
    {
        var rng = new Random(seed);
        var values = new double[length];
        for (int i = 0; i < length; i++) values[i] = lo + (hi - lo) * rng.NextDouble();
        return values;
    }

    /// <summary>Rounds float64 values to float32 (so both paths see identical inputs).</summary>
    public static float[] ToFloat(double[] values) => Array.ConvertAll(values, v => (float)v);

    /// <summary>Widens float32 values to float64.</summary>
    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);
}
