using System.Text.Json;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The layer-normalization kernels: the float64 reference (Kernels/Normalization/LayerNormReference.cs), the float64 CPU
/// path and the naive loops against PyTorch 1.13's <c>F.layer_norm</c> and its autograd (Tests/Fixtures/layernorm_torch.json,
/// made by make_layernorm_fixture.py; rtol 1e-10); both float32 paths (SIMD CPU, ILGPU's CPU accelerator, CUDA where present)
/// against the float64 reference, one group and three, overwrite and accumulate (rtol 1e-4, atol 1e-5: float32 sums of up
/// to 512 terms in other orders); bad shapes.
/// </summary>
public class LayerNormTests
{
    private const double Eps = 1e-5;

    public static TheoryData<string> TorchCases => new() { "small", "wide", "tiny_variance" };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void The_reference_and_the_float64_paths_match_pytorch(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("layernorm_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string p) => [.. c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble())];
        int rows = c.GetProperty("rows").GetInt32(), cols = c.GetProperty("cols").GetInt32();
        var (x, w, b, dy) = (D("x"), D("weight"), D("bias"), D("dy"));

        var (y, _, _) = LayerNormReference.Forward(x, rows, cols, 1, w, b, Eps);
        var (dx, dw, db) = LayerNormReference.Backward(x, rows, cols, 1, w, Eps, dy);
        Tolerance.AllClose(D("y"), y, 1e-10, 1e-12, $"{name} reference y");
        Tolerance.AllClose(D("dx"), dx, 1e-10, 1e-12, $"{name} reference dx");
        Tolerance.AllClose(D("dweight"), dw, 1e-10, 1e-12, $"{name} reference dγ");
        Tolerance.AllClose(D("dbias"), db, 1e-10, 1e-12, $"{name} reference dβ");

        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var got = Run(backend, x, rows, cols, 1, w, b, dy, accumulate: false);
            Tolerance.AllClose(D("y"), got.Y, 1e-10, 1e-12, $"{name} y on {backend.GetType().Name}");
            Tolerance.AllClose(D("dx"), got.Dx, 1e-10, 1e-12, $"{name} dx on {backend.GetType().Name}");
            Tolerance.AllClose(D("dweight"), got.DGamma, 1e-10, 1e-12, $"{name} dγ on {backend.GetType().Name}");
            Tolerance.AllClose(D("dbias"), got.DBeta, 1e-10, 1e-12, $"{name} dβ on {backend.GetType().Name}");
        }
    }

    /// <summary>Forward, input gradient and parameter gradients on <paramref name="backend"/>; with <paramref name="accumulate"/>
    /// the outputs start at 1 and the result has 1 subtracted.</summary>
    private static (double[] Y, double[] Dx, double[] DGamma, double[] DBeta) Run<T>(Backend<T> backend, double[] x, int rows, int cols, int groups,
        double[] gamma, double[] beta, double[] dy, bool accumulate) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T[] Of(double[] v) => [.. v.Select(T.CreateChecked)];
        double[] Back(DeviceBuffer<T> buffer) => [.. backend.ToArray(buffer.View).Select(v => double.CreateChecked(v) - (accumulate ? 1 : 0))];
        using var xs = backend.Allocate<T>(Of(x));
        using var gs = backend.Allocate<T>(Of(gamma));
        using var bs = backend.Allocate<T>(Of(beta));
        using var dys = backend.Allocate<T>(Of(dy));
        using var ys = backend.Allocate<T>(rows * cols);
        using var stats = backend.Allocate<T>(2 * rows);
        using var scratch = backend.Allocate<T>(rows * cols);
        using var dxs = backend.Allocate<T>(rows * cols);
        using var dgs = backend.Allocate<T>(groups * cols);
        using var dbs = backend.Allocate<T>(groups * cols);
        foreach (var buffer in new[] { dxs, dgs, dbs }) backend.Fill(buffer.View, accumulate ? T.One : T.NaN);
        var (mean, rstd) = (stats.View.Slice(0, rows), stats.View.Slice(rows, rows));
        backend.LayerNormForward(xs.View, rows, cols, groups, gs.View, bs.View, T.CreateChecked(Eps), ys.View, mean, rstd);
        backend.LayerNormBackwardInput(xs.View, mean, rstd, gs.View, dys.View, rows, cols, groups, scratch.View, dxs.View, accumulate);
        backend.LayerNormBackwardParameters(xs.View, mean, rstd, dys.View, rows, cols, groups, scratch.View, dgs.View, accumulate, dbs.View, accumulate);
        return ([.. backend.ToArray(ys.View).Select(v => double.CreateChecked(v))], Back(dxs), Back(dgs), Back(dbs));
    }

    public static TheoryData<string, int, int, int> Shapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var row in TestDevices.Float32)
        {
            data.Add(row.Data, 5, 7, 1);
            data.Add(row.Data, 12, 67, 3);
            data.Add(row.Data, 1, 1, 1);                          // one element: x̂ = 0, y = β
        }
        data.Add(TestDevices.Cpu, 256, 512, 2);                    // split across the CPU backend's workers
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float32_paths_match_the_float64_reference(string device, int rows, int cols, int groups)
    {
        var backend = TestDevices.Get(device);
        var x = Tolerance.Random(rows * cols, seed: rows + cols, lo: -3, hi: 5);
        var gamma = Tolerance.Random(groups * cols, seed: 2, lo: 0.5, hi: 1.5);
        var beta = Tolerance.Random(groups * cols, seed: 3);
        var dy = Tolerance.Random(rows * cols, seed: 4);
        var (y, _, _) = LayerNormReference.Forward(x, rows, cols, groups, gamma, beta, Eps);
        var (dx, dg, db) = LayerNormReference.Backward(x, rows, cols, groups, gamma, Eps, dy);
        var xf = Tolerance.ToDouble(Tolerance.ToFloat(x));                  // the float32 inputs, exactly
        foreach (bool accumulate in new[] { false, true })
        {
            var got = Run(backend, xf, rows, cols, groups, gamma, beta, dy, accumulate);
            Tolerance.AllClose(y, got.Y, 1e-4, 1e-5, $"y ({device}, accumulate {accumulate})");
            Tolerance.AllClose(dx, got.Dx, 1e-4, 1e-5, $"dx ({device}, accumulate {accumulate})");
            Tolerance.AllClose(dg, got.DGamma, 1e-4, 1e-5 * rows, $"dγ ({device}, accumulate {accumulate})");
            Tolerance.AllClose(db, got.DBeta, 1e-4, 1e-5 * rows, $"dβ ({device}, accumulate {accumulate})");
        }
    }

    [Fact]
    public void Rows_that_do_not_split_into_the_groups_are_refused_naming_them()
    {
        var cpu = TestDevices.Get(TestDevices.Cpu);
        using var x = cpu.Allocate<float>(10 * 4);
        using var p = cpu.Allocate<float>(3 * 4);
        using var s = cpu.Allocate<float>(20);
        var e = Assert.Throws<ArgumentException>(() => cpu.LayerNormForward(x.View, 10, 4, 3, p.View, p.View, 1e-5f, x.View, s.View.Slice(0, 10), s.View.Slice(10, 10)));
        Assert.Equal("groups", e.ParamName);
        Assert.Throws<ArgumentException>(() => cpu.LayerNormForward(x.View, 10, 4, 1, p.View, p.View, 1e-5f, x.View, s.View.Slice(0, 10), s.View.Slice(10, 10)));
    }
}
