using BenchmarkDotNet.Attributes;
using Engine.Kernels.Cpu;

namespace Engine.Bench.Kernels;

/// <summary>
/// The GEMMs under the training steps: every layer shape of every workload (<see cref="GemmShape.Layers"/>), float32
/// on the CPU with ENGINE_BENCH_THREADS threads (default 2). GFLOP/s = 2·m·n·k / Mean. The small workload's shapes
/// show the per-call overhead (no threads woken below about 100³ multiply-adds); the large ones the blocked kernel.
/// <code>dotnet run -c Release --project Bench -- --filter '*LayerGemmBenchmarks*' --job short</code>
/// </summary>
[MemoryDiagnoser]
public class LayerGemmBenchmarks
{
    private CpuBackend<float> _backend = null!;
    private GemmOperands _operands = null!;

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = GemmShape.Layers[0];

    public static IEnumerable<GemmShape> Shapes => GemmShape.Layers;

    [GlobalSetup]
    public void Setup()
    {
        int threads = int.TryParse(Environment.GetEnvironmentVariable("ENGINE_BENCH_THREADS"), out int t) ? t : 2;
        _backend = new CpuBackend<float>(threads);
        _operands = new GemmOperands(_backend, Shape);
        _operands.Run();
    }

    [Benchmark]
    public void Gemm() => _operands.Run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _operands.Dispose();
        _backend.Dispose();
    }
}
