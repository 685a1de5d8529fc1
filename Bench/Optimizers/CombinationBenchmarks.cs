using BenchmarkDotNet.Attributes;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Optimizers;

namespace Engine.Bench.Optimizers;

/// <summary>
/// Gradient combination over the per-task gradient buffer of 4 tasks × P shared parameters: the Gram pass alone, the
/// full projection step (Gram + coefficient solve + linear combination) and PCGrad, on the SIMD CPU path and, when the
/// machine has one, CUDA. Each operation ends with Synchronize so GPU timings include the work, not just the launch.
/// </summary>
[MemoryDiagnoser]
public class CombinationBenchmarks
{
    private const int Tasks = 4;
    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _gradients = null!, _weights = null!, _gram = null!, _output = null!;
    private ProjectionCombiner<float> _projection = null!;
    private PcGradCombiner<float> _pcGrad = null!;

    /// <summary>Shared parameters per task.</summary>
    [Params(1_000_000, 10_000_000)]
    public int Length { get; set; }

    /// <summary>The device: "cpu", and "cuda" when present.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var random = new Random(1);
        var host = new float[Tasks * Length];
        for (int i = 0; i < host.Length; i++) host[i] = (float)(random.NextDouble() * 2 - 1);
        _gradients = _backend.Allocate<float>(host);
        _weights = _backend.Allocate<float>([1f, 1f, 1f, 1f]);
        _gram = _backend.Allocate<float>(Tasks * Tasks);
        _output = _backend.Allocate<float>(Length);
        _projection = new ProjectionCombiner<float>(_backend);
        _pcGrad = new PcGradCombiner<float>(_backend, Tasks, seed: 1);
        _projection.Combine(_gradients.View, Tasks, _weights.View, _output.View); // compile kernels, size scratch
        _pcGrad.Combine(_gradients.View, Tasks, _weights.View, _output.View);
        _backend.Synchronize();
    }

    [Benchmark(Baseline = true)]
    public void Gram()
    {
        _backend.Gram(_gradients.View, Tasks, Length, _gram.View);
        _backend.Synchronize();
    }

    [Benchmark]
    public void Projection()
    {
        _projection.Combine(_gradients.View, Tasks, _weights.View, _output.View);
        _backend.Synchronize();
    }

    [Benchmark]
    public void PcGrad()
    {
        _pcGrad.Combine(_gradients.View, Tasks, _weights.View, _output.View);
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _projection.Dispose();
        _pcGrad.Dispose();
        _gradients.Dispose();
        _weights.Dispose();
        _gram.Dispose();
        _output.Dispose();
        _backend.Dispose();
    }
}
