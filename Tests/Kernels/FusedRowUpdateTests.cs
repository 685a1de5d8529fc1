using System.Numerics;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The fused row updates: MoCo's tracking pass with the Gram matrix of the updated rows (<see cref="Backend{T}.MocoTrack"/>)
/// and DB-MTL's moving average with the squared norms of the new averages (<see cref="Backend{T}.DbMtlAverage"/>), on
/// the SIMD CPU path in float32 and float64 and on ILGPU's CPU accelerator, against plain float64 loops written here
/// (from the inputs as the device holds them), over T = 2 … 8 and lengths below one SIMD vector, across and beyond the
/// column chunks (8192 on the CPU, 4096 per ILGPU group), odd lengths (ILGPU's scalar path) and a view at offset 1
/// (ILGPU's float4 path with a scalar head and tail).
/// Tolerances: the rows, one product and one fused multiply-add from the rounded inputs, so 1e-6 (float32; ε = 6e-8)
/// or 1e-14 (float64) times |d·y| + |s·g|; the sums, 1e-5·Σ|yᵢyⱼ| + 1e-7 (float32, GramTests' bound) or 1e-12·Σ|yᵢyⱼ|.
/// </summary>
public sealed class FusedRowUpdateTests
{
    private static readonly int[] CpuLengths = [1, 3, 7, 8, 37, 1000, 8192, 8193, 20001];
    private static readonly int[] EmulatorLengths = [1, 3, 7, 12, 37, 1001, 4100, 9001];
    private static readonly int[] Counts = [2, 3, 5, 8];

    public static TheoryData<string> Devices => ["cpu-float", "cpu-double", TestDevices.IlgpuCpu];

    [Theory]
    [MemberData(nameof(Devices))]
    public void MocoTrack_updates_the_rows_and_forms_the_gram_matrix_of_the_new_rows(string device)
    {
        if (device == "cpu-double") Cases(TestDevices.Reference, device, Moco, 1e-14, 1e-12);
        else Cases(Float(device), device, Moco, 1e-6, 1e-5);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void DbMtlAverage_updates_the_averages_and_sums_their_squared_norms(string device)
    {
        if (device == "cpu-double") Cases(TestDevices.Reference, device, DbMtl, 1e-14, 1e-12);
        else Cases(Float(device), device, DbMtl, 1e-6, 1e-5);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Zero_length_rows_give_zero_sums(string device)
    {
        if (device == "cpu-double") ZeroLength(TestDevices.Reference);
        else ZeroLength(Float(device));
    }

    /// <summary>The readable references (<see cref="MocoReference.Track"/>, <see cref="DbMtlReference.Average"/>) agree with the
    /// float64 CPU kernels (1e-12 relative to Σ|yᵢyⱼ|), so they say what the kernels compute.</summary>
    [Fact]
    public void The_readable_references_match_the_float64_kernels()
    {
        var backend = TestDevices.Reference;
        const int count = 3, length = 8193;
        double[] Rows(int seed) => Tolerance.Random(count * length, seed);
        double[][] Split(double[] flat) => [.. Enumerable.Range(0, count).Select(i => flat[(i * length)..((i + 1) * length)])];
        double[] y0 = Rows(1), g = Rows(2), scales = [0.3, 0.7, 1.1, 0.6], w = [0.5, 1, 2];

        using var tracked = backend.Allocate<double>(y0);
        using var vectors = backend.Allocate<double>(g);
        using var scaleBuffer = backend.Allocate<double>(scales);
        using var gram = backend.Allocate<double>(count * count);
        backend.MocoTrack(tracked.View, vectors.View, count, length, scaleBuffer.View, gram.View);
        var rows = Split(y0);
        var expected = MocoReference.Track(rows, Split(g), scales);
        Tolerance.AllClose([.. rows.SelectMany(r => r)], backend.ToArray(tracked.View), 1e-14, 1e-15, "MoCo rows");
        Tolerance.AllClose(expected.Cast<double>().ToArray(), backend.ToArray(gram.View), 1e-12, 1e-12 * length, "MoCo gram");

        using var average = backend.Allocate<double>(y0);
        using var weights = backend.Allocate<double>(w);
        using var steps = backend.Allocate<double>([2.0]);
        using var norms = backend.Allocate<double>(count);
        backend.DbMtlAverage(vectors.View, count, length, weights.View, steps.View, 0.9, 0.5, average.View, norms.View);
        var averages = Split(y0);
        var squares = DbMtlReference.Average(Split(g), w, averages, 0.9 / Math.Pow(3, 0.5));
        Tolerance.AllClose([.. averages.SelectMany(r => r)], backend.ToArray(average.View), 1e-14, 1e-15, "DB-MTL averages");
        Tolerance.AllClose(squares, backend.ToArray(norms.View), 1e-12, 1e-12 * length, "DB-MTL squared norms");
    }

    private static Backend<float> Float(string device) => TestDevices.Get(device == "cpu-float" ? TestDevices.Cpu : device);

    private delegate void Case<T>(Backend<T> backend, string what, int count, int length, int offset, double rowTolerance, double sumTolerance)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private static void Cases<T>(Backend<T> backend, string device, Case<T> check, double rowTolerance, double sumTolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var lengths = TestDevices.IsEmulated(device) ? EmulatorLengths : CpuLengths;
        foreach (int count in Counts)
        {
            foreach (int length in lengths) check(backend, $"{device} T={count} P={length}", count, length, 0, rowTolerance, sumTolerance);
            check(backend, $"{device} T={count} P=4100 at offset 1", count, 4100, 1, rowTolerance, sumTolerance);
        }
    }

    /// <summary>Random values rounded to T, as float64 (what the device holds).</summary>
    private static double[] Values<T>(int n, int seed, double lo = -1, double hi = 1) where T : unmanaged, IFloatingPointIeee754<T> =>
        Array.ConvertAll(Tolerance.Random(n, seed, lo, hi), v => double.CreateTruncating(T.CreateTruncating(v)));

    /// <summary>A device buffer of <paramref name="offset"/> zeros, then <paramref name="values"/>.</summary>
    private static DeviceBuffer<T> Upload<T>(Backend<T> backend, double[] values, int offset) where T : unmanaged, IFloatingPointIeee754<T> =>
        backend.Allocate<T>([.. new T[offset], .. Array.ConvertAll(values, T.CreateTruncating)]);

    private static double[] Download<T>(Backend<T> backend, View<T> view) where T : unmanaged, IFloatingPointIeee754<T> =>
        Array.ConvertAll(backend.ToArray(view), double.CreateTruncating);

    private static void Moco<T>(Backend<T> backend, string what, int count, int length, int offset, double rowTolerance, double sumTolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = count * length;
        double[] y0 = Values<T>(n, seed: 3 * n + count), g = Values<T>(n, seed: 5 * n + 1), scales = Values<T>(count + 1, seed: n, lo: 0.1, hi: 1.5);
        using var tracked = Upload(backend, y0, offset);
        using var vectors = Upload(backend, g, offset);
        using var scaleBuffer = Upload(backend, scales, 0);
        using var gram = Upload(backend, Enumerable.Repeat(7.0, count * count).ToArray(), 0);
        backend.MocoTrack(tracked.View.Slice(offset, n), vectors.View.Slice(offset, n), count, length, scaleBuffer.View, gram.View);

        double keep = scales[count];
        var y = new double[n];
        var bound = new double[n];
        for (int i = 0; i < count; i++)
            for (int k = 0; k < length; k++)
            {
                int e = i * length + k;
                y[e] = keep * y0[e] + scales[i] * g[e];
                bound[e] = rowTolerance * (Math.Abs(keep * y0[e]) + Math.Abs(scales[i] * g[e])) + 1e-30;
            }
        AssertRows(what, y, bound, Download(backend, tracked.View.Slice(offset, n)));
        var actual = Download(backend, gram.View);
        for (int i = 0; i < count; i++)
            for (int j = 0; j < count; j++)
            {
                double sum = 0, scale = 0;
                for (int k = 0; k < length; k++)
                {
                    sum += y[i * length + k] * y[j * length + k];
                    scale += Math.Abs(y[i * length + k] * y[j * length + k]);
                }
                double diff = Math.Abs(actual[i * count + j] - sum);
                Assert.True(diff <= sumTolerance * scale + (rowTolerance > 1e-10 ? 1e-7 : 1e-300),
                    $"{what}: gram[{i},{j}] = {actual[i * count + j]:R} vs {sum:R} (|diff| {diff:E2}, Σ|yᵢyⱼ| {scale:G4})");
            }
    }

    private static void DbMtl<T>(Backend<T> backend, string what, int count, int length, int offset, double rowTolerance, double sumTolerance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = count * length;
        const double beta = 0.9, sigma = 0.5, steps = 3;
        double[] a0 = Values<T>(n, seed: 7 * n + count), g = Values<T>(n, seed: 11 * n + 2), w = Values<T>(count, seed: n + 5, lo: 0.2, hi: 3);
        using var average = Upload(backend, a0, offset);
        using var vectors = Upload(backend, g, offset);
        using var weights = Upload(backend, w, 0);
        using var stepBuffer = Upload(backend, [steps], 0);
        using var norms = Upload(backend, Enumerable.Repeat(7.0, count).ToArray(), 0);
        backend.DbMtlAverage(vectors.View.Slice(offset, n), count, length, weights.View, stepBuffer.View, beta, sigma,
            average.View.Slice(offset, n), norms.View);

        double rate = beta / Math.Pow(steps + 1, sigma);
        var a = new double[n];
        var bound = new double[n];
        for (int i = 0; i < count; i++)
            for (int k = 0; k < length; k++)
            {
                int e = i * length + k;
                a[e] = rate * a0[e] + (1 - rate) * w[i] * g[e];
                bound[e] = rowTolerance * (Math.Abs(rate * a0[e]) + Math.Abs((1 - rate) * w[i] * g[e])) + 1e-30;
            }
        AssertRows(what, a, bound, Download(backend, average.View.Slice(offset, n)));
        var actual = Download(backend, norms.View);
        for (int i = 0; i < count; i++)
        {
            double sum = 0;
            for (int k = 0; k < length; k++) sum += a[i * length + k] * a[i * length + k];
            double diff = Math.Abs(actual[i] - sum);
            Assert.True(diff <= sumTolerance * sum + (rowTolerance > 1e-10 ? 1e-7 : 1e-300),
                $"{what}: ‖ĝ{i}‖² = {actual[i]:R} vs {sum:R} (|diff| {diff:E2})");
        }
    }

    private static void AssertRows(string what, double[] expected, double[] bound, double[] actual)
    {
        for (int e = 0; e < expected.Length; e++)
            Assert.True(Math.Abs(actual[e] - expected[e]) <= bound[e], $"{what}: row element {e} = {actual[e]:R} vs {expected[e]:R}");
    }

    private static void ZeroLength<T>(Backend<T> backend) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int count = 3;
        using var empty = backend.Allocate<T>(1);
        using var scales = Upload(backend, [0.5, 0.5, 0.5, 0.5], 0);
        using var gram = Upload(backend, Enumerable.Repeat(7.0, count * count).ToArray(), 0);
        backend.MocoTrack(empty.View.Slice(0, 0), empty.View.Slice(0, 0), count, 0, scales.View, gram.View);
        Assert.All(Download(backend, gram.View), v => Assert.Equal(0.0, v));
        using var norms = Upload(backend, [7.0, 7.0, 7.0], 0);
        backend.DbMtlAverage(empty.View.Slice(0, 0), count, 0, scales.View.Slice(0, count), scales.View.Slice(0, 1), 0.9, 0, empty.View.Slice(0, 0), norms.View);
        Assert.All(Download(backend, norms.View), v => Assert.Equal(0.0, v));
    }
}
