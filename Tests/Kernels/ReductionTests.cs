using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>ColumnSums, Sum and Dot: float64 against loops, hand examples, float32 parity with
/// tolerances scaled by Σ|terms| (the natural error bound of a floating-point sum), and bad input.</summary>
public class ReductionTests
{
    /// <summary>A length whose reduction spans several groups on every accelerator (8 terms per thread, ≤ 256 threads per group).</summary>
    private const int MultiGroupSize = 5000;

    public static TheoryData<string, int> DevicesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var row in TestDevices.Float32)
        {
            string device = row.Data;
            foreach (int n in new[] { 1, 7, 33, 257, 1000, MultiGroupSize }) data.Add(device, n);
            if (!TestDevices.IsEmulated(device)) { data.Add(device, 0); data.Add(device, 1_000_003); }
        }
        return data;
    }

    /// <summary>(rows, cols) shapes: tall, wide, odd, and on the CPU path one with several column
    /// blocks of 256 and enough work to run in parallel.</summary>
    public static TheoryData<string, int, int> DevicesAndShapes()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var row in TestDevices.Float32)
        {
            string device = row.Data;
            foreach (var (r, c) in new[] { (1, 1), (7, 3), (1, 33), (33, 7), (257, 5), (8, 257), (100, 10) }) data.Add(device, r, c);
            if (!TestDevices.IsEmulated(device)) { data.Add(device, 1000, 700); data.Add(device, 5000, 3); data.Add(device, 0, 4); }
        }
        return data;
    }

    [Fact]
    public void Column_sums_of_a_2x3_matrix_overwrite_or_accumulate()
    {
        var cpu = TestDevices.Reference;
        using var x = cpu.Allocate<double>([1, 2, 3, 4, 5, 6]);
        using var result = cpu.Allocate<double>([1, 1, 1]);
        cpu.ColumnSums(x.View, 2, 3, result.View, accumulate: true);
        Assert.Equal([6.0, 8, 10], cpu.ToArray(result.View));
        cpu.ColumnSums(x.View, 2, 3, result.View, accumulate: false);
        Assert.Equal([5.0, 7, 9], cpu.ToArray(result.View));
    }

    [Fact]
    public void Sum_with_scale_one_over_n_is_the_mean_and_dot_is_the_inner_product()
    {
        var cpu = TestDevices.Reference;
        using var x = cpu.Allocate<double>([1, 2, 3, 4]);
        using var y = cpu.Allocate<double>([0.5, -1, 2, 0]);
        using var result = cpu.Allocate<double>(1);
        cpu.Sum(x.View, result.View, 0.25);
        Assert.Equal(2.5, cpu.Read(result.View));
        cpu.Dot(x.View, y.View, result.View);
        Assert.Equal(0.5 - 2 + 6, cpu.Read(result.View));
        cpu.Sum(x.Slice(0, 0), result.View, 1.0);
        Assert.Equal(0.0, cpu.Read(result.View)); // the empty sum
    }

    [Fact]
    public void Float64_reductions_match_loops()
    {
        var cpu = TestDevices.Reference;
        foreach (var (rows, cols) in new[] { (1, 1), (3, 300), (257, 33), (2000, 513) })
        {
            double[] x = Tolerance.Random(rows * cols, seed: rows + cols);
            double[] y = Tolerance.Random(rows * cols, seed: rows * cols);
            double[] start = Tolerance.Random(cols, seed: 7);
            double sum = 0, dot = 0;
            double[] columns = new double[cols];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                {
                    sum += x[i * cols + j];
                    dot += x[i * cols + j] * y[i * cols + j];
                    columns[j] += x[i * cols + j];
                }
            using var xs = cpu.Allocate<double>(x);
            using var ys = cpu.Allocate<double>(y);
            using var result = cpu.Allocate<double>(1);
            using var colsView = cpu.Allocate<double>(start);
            double bound = 1e-14 * rows * cols; // |values| ≤ 1: summation order differs from the loop
            cpu.Sum(xs.View, result.View, -2.0);
            Assert.Equal(-2 * sum, cpu.Read(result.View), bound * 2);
            cpu.Dot(xs.View, ys.View, result.View);
            Assert.Equal(dot, cpu.Read(result.View), bound);
            cpu.ColumnSums(xs.View, rows, cols, colsView.View, accumulate: true);
            Tolerance.AllClose(columns.Select((c, j) => c + start[j]).ToArray(), cpu.ToArray(colsView.View), rtol: 0, atol: 1e-14 * rows, what: $"column sums {rows}x{cols}");
        }
    }

    /// <summary>Sum (scaled), Dot in float32 against float64 on the same inputs;
    /// |err| ≤ 1e-6·Σ|terms| (each float32 rounding is ≤ 6e-8 relative; the sums are blocked or tree-shaped).</summary>
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void Float32_sum_and_dot_match_the_float64_reference(string device, int n)
    {
        var backend = TestDevices.Get(device);
        var reference = TestDevices.Reference;
        float[] x = Tolerance.ToFloat(Tolerance.Random(n, seed: 40 + n, lo: -2, hi: 3));
        float[] y = Tolerance.ToFloat(Tolerance.Random(n, seed: 41 + n));
        using var xf = backend.Allocate<float>(x);
        using var yf = backend.Allocate<float>(y);
        using var rf = backend.Allocate<float>([float.NaN]);
        using var xd = reference.Allocate<double>(Tolerance.ToDouble(x));
        using var yd = reference.Allocate<double>(Tolerance.ToDouble(y));
        using var rd = reference.Allocate<double>(1);
        double absSum = x.Sum(v => Math.Abs((double)v)), absDot = x.Zip(y, (a, b) => Math.Abs((double)a * b)).Sum();

        float scale = n == 0 ? 1 : 1f / n;
        backend.Sum(xf.View, rf.View, scale);
        reference.Sum(xd.View, rd.View, scale);
        Assert.Equal(reference.Read(rd.View), backend.Read(rf.View), 1e-6 * absSum * scale + 1e-30);

        backend.Dot(xf.View, yf.View, rf.View);
        reference.Dot(xd.View, yd.View, rd.View);
        Assert.Equal(reference.Read(rd.View), backend.Read(rf.View), 1e-6 * absDot + 1e-30);
    }

    /// <summary>Adding 0.1f a few million times: a running float32 sum drifts by percent (each addition
    /// rounds at the scale of the total); blocked or tree sums stay within 1e-6 relative.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_sum_of_many_equal_values_does_not_drift(string device)
    {
        var backend = TestDevices.Get(device);
        int n = TestDevices.IsEmulated(device) ? 1 << 16 : 1 << 22;
        using var x = backend.Allocate<float>(n);
        using var result = backend.Allocate<float>(1);
        backend.Fill(x.View, 0.1f);
        backend.Sum(x.View, result.View, 1f);
        double exact = (double)0.1f * n;
        Assert.Equal(exact, backend.Read(result.View), exact * 1e-6);
    }

    /// <summary>Column sums in float32 against float64; |err| ≤ 1e-6·rows (entries in [−1, 1]) — checked
    /// both overwriting and accumulating into a non-zero start.</summary>
    [Theory]
    [MemberData(nameof(DevicesAndShapes))]
    public void Float32_column_sums_match_the_float64_reference(string device, int rows, int cols)
    {
        var backend = TestDevices.Get(device);
        var reference = TestDevices.Reference;
        float[] x = Tolerance.ToFloat(Tolerance.Random(rows * cols, seed: 50 + rows * cols));
        float[] start = Tolerance.ToFloat(Tolerance.Random(cols, seed: 51 + cols));
        using var xf = backend.Allocate<float>(x);
        using var rf = backend.Allocate<float>(cols);
        using var xd = reference.Allocate<double>(Tolerance.ToDouble(x));
        using var rd = reference.Allocate<double>(cols);
        foreach (bool accumulate in new[] { false, true })
        {
            backend.Upload<float>(start, rf.View);
            reference.Upload<double>(Tolerance.ToDouble(start), rd.View);
            backend.ColumnSums(xf.View, rows, cols, rf.View, accumulate);
            reference.ColumnSums(xd.View, rows, cols, rd.View, accumulate);
            Tolerance.AllClose(reference.ToArray(rd.View), backend.ToArray(rf.View), rtol: 1e-6, atol: 1e-6 * Math.Max(1, rows),
                what: $"{device} column sums {rows}x{cols} accumulate={accumulate}");
        }
    }

    /// <summary>The ILGPU reductions are only tested for real if groups hold several threads (the
    /// shared-memory tree runs) and a reduction spans several groups (pass 2 runs): check both hold
    /// for the sizes above on the emulator.</summary>
    [Fact]
    public void Ilgpu_reductions_run_multi_thread_groups_and_several_groups_on_the_emulator()
    {
        var ilgpu = (Engine.Kernels.Ilgpu.IlgpuBackend)TestDevices.Get(TestDevices.IlgpuCpu);
        Assert.InRange(ilgpu.GroupSize, 2, Engine.Kernels.Ilgpu.IlgpuBackend.MaxGroupSize);
        Assert.Equal(0, ilgpu.GroupSize & (ilgpu.GroupSize - 1)); // a power of two, as the tree needs
        Assert.True(MultiGroupSize / 8 > ilgpu.GroupSize, $"n = {MultiGroupSize} must need more than one group");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Bad_shapes_throw_naming_the_operand(string device)
    {
        var backend = TestDevices.Get(device);
        using var six = backend.Allocate<float>(6);
        using var five = backend.Allocate<float>(5);
        using var one = backend.Allocate<float>(1);
        using var two = backend.Allocate<float>(2);
        void Throws(string operand, Action call)
        {
            var error = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal(operand, error.ParamName);
            Assert.Contains(operand, error.Message);
        }
        Throws("x", () => backend.ColumnSums(five.View, 2, 3, six.Slice(0, 3), false));
        Throws("result", () => backend.ColumnSums(six.View, 2, 3, two.View, false));
        Throws("rows", () => backend.ColumnSums(six.View, -2, -3, two.View, false));
        Throws("b", () => backend.Dot(six.View, five.View, one.View));
        Throws("result", () => backend.Dot(six.View, six.View, two.View));
        Throws("result", () => backend.Sum(six.View, two.View, 1f));
    }
}
