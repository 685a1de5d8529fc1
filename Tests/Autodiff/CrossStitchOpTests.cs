using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The cross-stitch unit <see cref="Ops.CrossStitch{T}"/> (Misra et al. 2016, eq. 1–2): a float64 central-difference
/// check (<see cref="GradCheck"/>, |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|) on the engine's float64 CPU path and on
/// the test's naive loops, for a full T×T unit and for one row; and forward, dX, dα on every float32 device (SIMD CPU,
/// ILGPU CPU, CUDA when present) against float64 loops written here (rtol 1e-5; atol 1e-6 for y and dX, sums of T
/// products of values ≤ 1; atol 1e-6·√(B·H) for dα, a sum over B·H products). The whole cross-stitch shared part is
/// checked in <see cref="MixtureOpTests"/> (gradient check, stacked per-task pass, shared/task-owned table).
/// </summary>
public class CrossStitchOpTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void A_unit_and_one_row_of_a_unit_pass_a_gradient_check(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var columns = leaves.Random("columns", 3 * 5, 4, seed: 1);      // T = 3 columns, batch 5, width 4
        var unit = leaves.Random("unit", 3, 3, seed: 2);
        var row = leaves.Random("row", 1, 3, seed: 3);
        var r1 = GradCheck.Run(backend, tape => tape.CrossStitch(columns, unit), [columns, unit]);
        Assert.True(r1.Passed, r1.ToString());
        Assert.Equal(60 + 9, r1.Checked);
        var r2 = GradCheck.Run(backend, tape => tape.CrossStitch(tape.Tanh(tape.CrossStitch(columns, unit)), row), [columns, unit, row]);
        Assert.True(r2.Passed, r2.ToString());
        Assert.Equal(60 + 9 + 3, r2.Checked);
    }

    /// <summary>y[r, b, h] = Σₛ α[r, s]·x[s, b, h]; with L = Σ tanh(y): dY = 1 − tanh²(y), dX[s] = Σᵣ α[r, s]·dY[r],
    /// dα[r, s] = Σ_{b,h} dY[r, b, h]·x[s, b, h].</summary>
    private static (double[] Y, double[] DX, double[] DA) Reference(double[] x, double[] a, int rows, int tasks, int block)
    {
        var y = new double[rows * block];
        var dy = new double[rows * block];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < block; i++)
            {
                double s = 0;
                for (int c = 0; c < tasks; c++) s += a[r * tasks + c] * x[c * block + i];
                y[r * block + i] = s;
                dy[r * block + i] = 1 - Math.Tanh(s) * Math.Tanh(s);
            }
        var dx = new double[tasks * block];
        var da = new double[rows * tasks];
        for (int c = 0; c < tasks; c++)
            for (int i = 0; i < block; i++)
                for (int r = 0; r < rows; r++) dx[c * block + i] += a[r * tasks + c] * dy[r * block + i];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < tasks; c++)
                for (int i = 0; i < block; i++) da[r * tasks + c] += dy[r * block + i] * x[c * block + i];
        return (y, dx, da);
    }

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32) foreach (int rows in new[] { 4, 1 }) data.Add(device, rows);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32_forward_and_both_gradients_match_float64_loops(string device, int rows)
    {
        var backend = TestDevices.Get(device);
        const int tasks = 4, batch = 7, width = 9, block = batch * width;
        var x = Tolerance.Random(tasks * block, 11);
        var a = Tolerance.Random(rows * tasks, 12);
        var (y, dx, da) = Reference(x, a, rows, tasks, block);
        using var leaves = new Leaves<float>(backend);
        var columns = leaves.Make("columns", tasks * batch, width, x);
        var mix = leaves.Make("mix", rows, tasks, a);
        using var tape = new Tape<float>(backend);
        var output = tape.CrossStitch(columns, mix);
        Tolerance.AllClose(y, backend.ToArray(output.Data), 1e-5, 1e-6, $"{device} y");
        tape.Backward(tape.Sum(tape.Tanh(output)));
        Tolerance.AllClose(dx, backend.ToArray(columns.Grad), 1e-5, 1e-6, $"{device} dX");
        Tolerance.AllClose(da, backend.ToArray(mix.Grad), 1e-5, 1e-6 * Math.Sqrt(block), $"{device} dα");
    }

    [Fact]
    public void A_mix_whose_columns_do_not_divide_the_rows_is_refused()
    {
        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var e = Assert.Throws<ArgumentException>(() => tape.CrossStitch(leaves.Random("x", 7, 2, seed: 1), leaves.Random("a", 3, 3, seed: 2)));
        Assert.Equal("columns", e.ParamName);
    }
}
