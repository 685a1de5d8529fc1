using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// GEMM throughput per device and shape. Each invocation is one float32 GEMM plus Synchronize (so GPU time
/// is measured, not launch time). GFLOP/s = 2·m·n·k / mean. Devices come from <see cref="BenchDevices.Float32"/>:
/// "cpu" always, "cuda" only when this machine opens a CUDA device (so no case times an empty method).
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*GemmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = GemmShape.Report[0];

    public static IEnumerable<GemmShape> Shapes => GemmShape.Report;

    private Backend<float> _backend = null!;
    private GemmOperands _operands = null!;

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        _operands = new GemmOperands(_backend, Shape);
        _operands.Run();
        _backend.Synchronize();
    }

    [Benchmark]
    public void Gemm()
    {
        _operands.Run();
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _operands.Dispose();
        _backend.Dispose();
    }
}
