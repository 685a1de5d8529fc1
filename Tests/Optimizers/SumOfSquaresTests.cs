using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>The segmented sum of squares: every per-parameter ‖gᵢ‖² and the total in one pass.</summary>
public class SumOfSquaresTests
{
    /// <summary>Segment layouts: single segments of odd/even sizes, and segments that straddle the
    /// ILGPU kernel's tiles (8192 elements each), its float4 (boundaries at every residue mod 4) and the CPU's
    /// 4096-element blocks.</summary>
    private static readonly int[][] s_layouts =
    [
        [1], [7], [33], [257], [1000],
        [3, 5000, 1, 4096, 7],
        [1, 1, 1, 2, 300, 1, 64],
        [5, 8190, 3, 9001, 2, 16386],
    ];

    private static double[] Expected(double[] x, int[] lengths)
    {
        var result = new double[lengths.Length + 1];
        int offset = 0;
        for (int s = 0; s < lengths.Length; s++)
        {
            for (int i = 0; i < lengths[s]; i++) result[s] += x[offset + i] * x[offset + i];
            offset += lengths[s];
            result[^1] += result[s];
        }
        return result;
    }

    /// <summary>Every float32 device with every case number below <paramref name="count"/>.</summary>
    private static TheoryData<string, int> OnEveryDevice(int count)
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32)
            for (int i = 0; i < count; i++)
                data.Add(device.Data, i);
        return data;
    }

    public static TheoryData<string, int> Float32Cases() => OnEveryDevice(s_layouts.Length);

    [Theory]
    [MemberData(nameof(Float32Cases))]
    public void Float32_segment_sums_match_float64(string device, int layout)
    {
        // Tolerance: float32 squares summed in float32 (ILGPU, with atomics) or blocks of float32 (CPU): rtol 1e-5.
        var backend = TestDevices.Get(device);
        var lengths = s_layouts[layout];
        using var model = new TestModel<float>(backend, lengths);
        var g = TestModel<float>.Rounded(Tolerance.Random(model.Count, seed: layout, lo: -3, hi: 3));
        model.SetGradients(g);
        using var result = backend.Allocate<float>(lengths.Length + 1);
        backend.SegmentedSumOfSquares(model.Parameters.Gradients, model.Parameters.SegmentOffsets, result.View);
        Tolerance.AllClose(Expected(g, lengths), backend.ToArray(result.View), 1e-5, 1e-12, $"sums on {device}");
    }

    public static TheoryData<string, int> OffsetCases() => OnEveryDevice(4);

    /// <summary>A view that starts 0–3 elements into its buffer: the ILGPU kernel's float4 then start at element
    /// 4 − offset (mod 4) of the view, so the scalar head and tail of every piece are exercised at each phase.</summary>
    [Theory]
    [MemberData(nameof(OffsetCases))]
    public void Float32_segment_sums_of_a_view_at_any_offset_match_float64(string device, int offset)
    {
        // Tolerance as above: rtol 1e-5 against float64 sums of the same float32 values.
        var backend = TestDevices.Get(device);
        int[] lengths = [2, 8191, 6, 4097, 1, 20000];
        int n = lengths.Sum();
        var random = new Random(40 + offset);
        var all = new float[offset + n];
        for (int i = 0; i < all.Length; i++) all[i] = (float)(random.NextDouble() * 6 - 3);
        var g = Array.ConvertAll(all[offset..], v => (double)v);
        var bounds = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) bounds[s + 1] = bounds[s] + lengths[s];
        using var buffer = backend.Allocate<float>(all);
        using var offsets = backend.Allocate<int>(bounds);
        using var result = backend.Allocate<float>(lengths.Length + 1);
        backend.SegmentedSumOfSquares(buffer.View.Slice(offset, n), offsets.View, result.View);
        Tolerance.AllClose(Expected(g, lengths), backend.ToArray(result.View), 1e-5, 1e-12, $"sums on {device}, offset {offset}");
    }

    [Fact]
    public void Float64_segment_sums_match_the_naive_loop()
    {
        var lengths = s_layouts[5];
        using var model = new TestModel<double>(TestDevices.Reference, lengths);
        var g = Tolerance.Random(model.Count, seed: 11, lo: -3, hi: 3);
        model.SetGradients(g);
        using var result = model.Backend.Allocate<double>(lengths.Length + 1);
        model.Backend.SegmentedSumOfSquares(model.Parameters.Gradients, model.Parameters.SegmentOffsets, result.View);
        Tolerance.AllClose(Expected(g, lengths), model.Backend.ToArray(result.View), 1e-13, 0, "sums");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Empty_segments_give_zero_and_a_stale_result_is_overwritten(string device)
    {
        var backend = TestDevices.Get(device);
        float[] x = [1, 2, 3, 4, 5, 6, 7];
        using var values = backend.Allocate<float>(x);
        using var offsets = backend.Allocate<int>([0, 0, 3, 3, 7]);
        using var result = backend.Allocate<float>([99f, 99f, 99f, 99f, 99f]);
        backend.SegmentedSumOfSquares(values.View, offsets.View, result.View);
        Assert.Equal([0f, 14f, 0f, 126f, 140f], backend.ToArray(result.View));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Per_parameter_norms_come_from_the_same_reduction(string device)
    {
        var backend = TestDevices.Get(device);
        int[] lengths = [12, 1, 300];
        using var model = new TestModel<float>(backend, lengths);
        var g = TestModel<float>.Rounded(Tolerance.Random(model.Count, seed: 21));
        g[12] = -0.75; // p1 holds one element: its norm is |g|
        model.SetGradients(g);
        using var sgd = new Sgd<float>(backend, model.Parameters);
        using var clipper = new GradientClipper<float>(backend, model.Parameters, sgd.Control);
        clipper.ComputeNorms();
        var norms = clipper.ReadParameterNorms();
        var expected = Expected(g, lengths);
        Assert.Equal(["p0", "p1", "p2"], norms.Keys);
        Tolerance.AllClose(Array.ConvertAll(expected[..3], Math.Sqrt), [norms["p0"], norms["p1"], norms["p2"]], 1e-5, 0, "‖gᵢ‖");
        Assert.Equal(0.75, norms["p1"]);
    }

    [Fact]
    public void The_cpu_sums_have_the_same_bits_on_one_thread_and_on_two()
    {
        // 300 000 elements split into chunks fixed by the size alone (above the 2^16 inline threshold): the partials
        // are added in chunk order whatever the thread count, so clipping's norm is reproducible across machines.
        var x = new float[300_000];
        var random = new Random(5);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 6 - 3);
        float[] SumsOn(int threads)
        {
            using var backend = new Engine.Kernels.Cpu.CpuBackend<float>(threads);
            using var values = backend.Allocate<float>(x);
            using var offsets = backend.Allocate<int>([0, 100_003, 300_000]);
            using var result = backend.Allocate<float>(3);
            backend.SegmentedSumOfSquares(values.View, offsets.View, result.View);
            return backend.ToArray(result.View);
        }
        var one = SumsOn(1);
        Assert.Equal(one, SumsOn(2));
        double exact = 0;
        foreach (float v in x) exact += (double)v * v;
        Assert.Equal(exact, one[2], exact * 1e-6);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_result_of_the_wrong_length_is_rejected(string device)
    {
        var backend = TestDevices.Get(device);
        using var values = backend.Allocate<float>(7);
        using var offsets = backend.Allocate<int>([0, 3, 7]);
        using var result = backend.Allocate<float>(2);
        var error = Assert.Throws<ArgumentException>(() => backend.SegmentedSumOfSquares(values.View, offsets.View, result.View));
        Assert.Equal("result", error.ParamName);
        Assert.Contains("must hold 3", error.Message);
    }
}
