using System.Numerics;
using System.Text.Json;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The embedding kernels (gather, scatter-add, column copy): the float64 reference (Kernels/Embedding/EmbeddingReference.cs),
/// the float64 SIMD path and the naive loops against PyTorch 1.13's <c>F.embedding</c> and the gradient of its weight
/// (Tests/Fixtures/embedding_torch.json, made by make_embedding_fixture.py; rtol 1e-12), with the index column inside a wider
/// input and the output block inside a wider output (strides and offsets); both float32 paths (SIMD CPU, ILGPU's CPU
/// accelerator, CUDA where present) against the float64 reference — the gather exactly, the scatter-add to rtol 1e-5,
/// atol 1e-6·(rows sharing an index) (float32 sums in another order) — overwriting and accumulating; the SIMD scatter-add
/// returns the same bits on every call (deterministic); a bad layout is refused naming it.
/// </summary>
public class EmbeddingTests
{
    public static TheoryData<string> TorchCases => new() { "small", "repeats", "sparse" };

    /// <summary>x [rows × 3] with the index in column 1; y [rows × (dim + 3)] with the block at offset 2.</summary>
    private static EmbeddingLayout Layout(int rows, int count, int dim) => new(rows, 3, 1, count, dim, dim + 3, 2);

    private static double[] Inputs(IReadOnlyList<int> index, int seed)
    {
        var x = Tolerance.Random(index.Count * 3, seed);
        for (int r = 0; r < index.Count; r++) x[r * 3 + 1] = index[r];
        return x;
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void The_reference_and_the_float64_paths_match_pytorch(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("embedding_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string p) => [.. c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble())];
        int rows = c.GetProperty("rows").GetInt32(), count = c.GetProperty("count").GetInt32(), dim = c.GetProperty("dim").GetInt32();
        int[] index = [.. c.GetProperty("index").EnumerateArray().Select(v => v.GetInt32())];
        var layout = Layout(rows, count, dim);
        var x = Inputs(index, seed: 1);
        var dy = Spread(D("dy"), layout);

        var y = new double[rows * layout.OutputCols];
        EmbeddingReference.Gather(x, D("weight"), layout, y);
        Tolerance.AllClose(D("y"), Block(y, layout), 0, 0, $"{name} reference y");
        Tolerance.AllClose(D("dweight"), EmbeddingReference.ScatterAdd(x, dy, layout), 1e-12, 1e-14, $"{name} reference dE");

        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var got = Run(backend, x, D("weight"), dy, layout, accumulate: false);
            Tolerance.AllClose(D("y"), Block(got.Y, layout), 0, 0, $"{name} y on {backend.GetType().Name}");
            Tolerance.AllClose(D("dweight"), got.DTable, 1e-12, 1e-14, $"{name} dE on {backend.GetType().Name}");
        }
    }

    /// <summary>dy [rows × dim] placed in the output block of a [rows × OutputCols] matrix whose other columns hold 7.</summary>
    private static double[] Spread(double[] block, EmbeddingLayout l)
    {
        var full = Enumerable.Repeat(7.0, l.Rows * l.OutputCols).ToArray();
        for (int r = 0; r < l.Rows; r++)
            for (int j = 0; j < l.Dim; j++) full[r * l.OutputCols + l.OutputOffset + j] = block[r * l.Dim + j];
        return full;
    }

    private static double[] Block(double[] full, EmbeddingLayout l)
    {
        var block = new double[l.Rows * l.Dim];
        for (int r = 0; r < l.Rows; r++)
            for (int j = 0; j < l.Dim; j++) block[r * l.Dim + j] = full[r * l.OutputCols + l.OutputOffset + j];
        return block;
    }

    /// <summary>Gather into y (starting at 3, so the columns outside the block must stay 3) and scatter-add into dE; with
    /// <paramref name="accumulate"/> dE starts at 1 and 1 is subtracted from the result.</summary>
    private static (double[] Y, double[] DTable) Run<T>(Backend<T> backend, double[] x, double[] table, double[] dy, EmbeddingLayout l,
        bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] Of(double[] v) => [.. v.Select(T.CreateChecked)];
        using var xs = backend.Allocate<T>(Of(x));
        using var ts = backend.Allocate<T>(Of(table));
        using var dys = backend.Allocate<T>(Of(dy));
        using var ys = backend.Allocate<T>(l.Rows * l.OutputCols);
        using var ds = backend.Allocate<T>(l.Count * l.Dim);
        backend.Fill(ys.View, T.CreateChecked(3));
        backend.Fill(ds.View, accumulate ? T.One : T.NaN);
        backend.EmbeddingGather(xs.View, ts.View, l, ys.View);
        backend.EmbeddingScatterAdd(xs.View, dys.View, l, ds.View, accumulate);
        var y = backend.ToArray(ys.View).Select(v => double.CreateChecked(v)).ToArray();
        for (int i = 0; i < y.Length; i++)
        {
            int j = i % l.OutputCols;
            if (j < l.OutputOffset || j >= l.OutputOffset + l.Dim) Assert.Equal(3.0, y[i]);     // outside the block: untouched
        }
        return (y, [.. backend.ToArray(ds.View).Select(v => double.CreateChecked(v) - (accumulate ? 1 : 0))]);
    }

    public static TheoryData<string, int, int, int> Shapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var row in TestDevices.Float32)
        {
            data.Add(row.Data, 9, 4, 3);
            data.Add(row.Data, 64, 7, 16);                         // about 9 rows per index: atomics collide on ILGPU
            data.Add(row.Data, 1, 1, 1);
        }
        data.Add(TestDevices.Cpu, 1024, 10_001, 16);               // the table rows split across the CPU backend's workers
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float32_paths_match_the_float64_reference(string device, int rows, int count, int dim)
    {
        var backend = TestDevices.Get(device);
        var layout = Layout(rows, count, dim);
        var index = Enumerable.Range(0, rows).Select(r => (int)((r * 2654435761L + 7) % count)).ToArray();
        index[0] = count - 1;
        var x = Inputs(index, seed: rows);
        var table = Tolerance.Random(count * dim, seed: 2);
        var dy = Tolerance.Random(rows * layout.OutputCols, seed: 3);
        var dTable = EmbeddingReference.ScatterAdd(Tolerance.ToDouble(Tolerance.ToFloat(x)), dy, layout);
        int repeats = index.GroupBy(i => i).Max(g => g.Count());
        var tableF = Tolerance.ToDouble(Tolerance.ToFloat(table));
        foreach (bool accumulate in new[] { false, true })
        {
            var got = Run(backend, x, table, dy, layout, accumulate);
            Tolerance.AllClose(Block(ReferenceGather(x, tableF, layout), layout), Block(got.Y, layout), 0, 0, $"y ({device}, accumulate {accumulate})");
            Tolerance.AllClose(dTable, got.DTable, 1e-5, 1e-6 * repeats + (accumulate ? 1e-6 : 0), $"dE ({device}, accumulate {accumulate})");
        }
    }

    private static double[] ReferenceGather(double[] x, double[] table, EmbeddingLayout l)
    {
        var y = new double[l.Rows * l.OutputCols];
        EmbeddingReference.Gather(x, table, l, y);
        return y;
    }

    [Fact]
    public void The_simd_scatter_add_is_deterministic()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        var layout = Layout(2048, 3, 16);                          // 2048 rows into 3 table rows: long float32 sums
        var x = Inputs([.. Enumerable.Range(0, 2048).Select(r => r % 3)], seed: 5);
        var dy = Tolerance.Random(2048 * layout.OutputCols, seed: 6, lo: -100, hi: 100);
        var first = Run(backend, x, new double[48], dy, layout, accumulate: false).DTable;
        for (int i = 0; i < 3; i++) Assert.Equal(first, Run(backend, x, new double[48], dy, layout, accumulate: false).DTable);
    }

    [Fact]
    public void An_index_outside_the_table_reads_the_reserved_last_row()
    {
        var l = new EmbeddingLayout(3, 1, 0, 2, 1, 1, 0);
        var y = new double[3];
        EmbeddingReference.Gather([-1, 5, 1], [10, 20], l, y);
        Assert.Equal([20.0, 20, 20], y);
        Assert.Equal(1, EmbeddingLayout.Row(double.NaN, 2));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Copy_columns_copies_the_leading_columns_only(string device)
    {
        var backend = TestDevices.Get(device);
        using var x = backend.Allocate<float>([1, 2, 3, 4, 5, 6]);         // [2 × 3]
        using var y = backend.Allocate<float>(8);                          // [2 × 4]
        backend.Fill(y.View, 9f);
        backend.CopyColumns(x.View, 2, 3, 2, y.View, 4);
        Assert.Equal([1f, 2, 9, 9, 4, 5, 9, 9], backend.ToArray(y.View));
    }

    [Fact]
    public void A_bad_layout_is_refused_naming_it()
    {
        var cpu = TestDevices.Get(TestDevices.Cpu);
        using var x = cpu.Allocate<float>(6);
        using var t = cpu.Allocate<float>(8);
        using var y = cpu.Allocate<float>(8);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.EmbeddingGather(x.View, t.View, new EmbeddingLayout(2, 3, 3, 4, 2, 4, 0), y.View));
        Assert.Contains("index column 3", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => cpu.EmbeddingGather(x.View, t.View, new EmbeddingLayout(2, 3, 0, 4, 2, 4, 3), y.View));
        Assert.Contains("does not fit", e.Message);
        Assert.Throws<ArgumentException>(() => cpu.EmbeddingGather(x.View, t.View, new EmbeddingLayout(2, 3, 0, 3, 2, 4, 0), y.View));  // table length
        Assert.Throws<ArgumentException>(() => cpu.EmbeddingScatterAdd(x.View, y.View, new EmbeddingLayout(2, 3, 0, 4, 2, 4, 0), y.View, false)); // dE is dy
    }
}
