using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// The embedding kernels (docs/maths.md §21.3) at the size: a batch of 512 rows whose input holds two category
/// columns, tables of 10,001 × 16 and 1,001 × 16 (10,000 and 1,000 categories plus the reserved row): the gather of both
/// into a [512 × 32] block, and the scatter-add of both (overwriting: each clears its table gradient first, which at 160k
/// floats is most of the work). Indices uniform. Every benchmark ends with <see cref="Backend.Synchronize"/>.
/// </summary>
[MemoryDiagnoser]
public class EmbeddingBenchmarks
{
    private const int Batch = 512, Dim = 16;
    private static readonly int[] Counts = [10_001, 1_001];

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _x = null!, _y = null!, _dy = null!;
    private DeviceBuffer<float>[] _tables = null!, _grads = null!;

    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    private static EmbeddingLayout Layout(int t) => new(Batch, 2, t, Counts[t], Dim, 2 * Dim, t * Dim);

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var rng = new Random(1);
        var x = new float[Batch * 2];
        for (int r = 0; r < Batch; r++) (x[2 * r], x[2 * r + 1]) = (rng.Next(Counts[0] - 1), rng.Next(Counts[1] - 1));
        _x = _backend.Allocate<float>(x);
        _y = _backend.Allocate<float>(Batch * 2 * Dim);
        _dy = _backend.Allocate<float>([.. Enumerable.Range(0, Batch * 2 * Dim).Select(_ => (float)(rng.NextDouble() * 2 - 1))]);
        _tables = [.. Counts.Select(c => _backend.Allocate<float>([.. Enumerable.Range(0, c * Dim).Select(_ => (float)rng.NextDouble())]))];
        _grads = [.. Counts.Select(c => _backend.Allocate<float>(c * Dim))];
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new[] { _x, _y, _dy }.Concat(_tables).Concat(_grads)) buffer.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Description = "gather, 512 rows × 2 columns, dim 16")]
    public void Gather()
    {
        for (int t = 0; t < 2; t++) _backend.EmbeddingGather(_x.View, _tables[t].View, Layout(t), _y.View);
        _backend.Synchronize();
    }

    [Benchmark(Description = "scatter-add (clearing) into 10,001×16 and 1,001×16")]
    public void ScatterAdd()
    {
        for (int t = 0; t < 2; t++) _backend.EmbeddingScatterAdd(_x.View, _dy.View, Layout(t), _grads[t].View, accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark(Description = "scatter-add (accumulating) into 10,001×16 and 1,001×16")]
    public void ScatterAddAccumulate()
    {
        for (int t = 0; t < 2; t++) _backend.EmbeddingScatterAdd(_x.View, _dy.View, Layout(t), _grads[t].View, accumulate: true);
        _backend.Synchronize();
    }
}
