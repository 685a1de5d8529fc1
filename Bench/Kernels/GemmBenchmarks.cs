using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// GEMM throughput per device and shape. Each invocation is one float32 GEMM plus Synchronize (so GPU time
/// is measured, not launch time). GFLOP/s = 2·m·n·k / mean. "cuda" cases report a skip and do nothing on a
/// machine without a CUDA device.
/// Run: <c>dotnet run -c Release --project Bench -- --filter '*GemmBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    [Params("cpu", "cuda")]
    public string Device { get; set; } = "cpu";

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; } = GemmShape.Report[0];

    public static IEnumerable<GemmShape> Shapes => GemmShape.Report;

    private Backend<float>? _backend;
    private GemmOperands? _operands;

    [GlobalSetup]
    public void Setup()
    {
        try { _backend = Engine.Kernels.Device.Create(Device); }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"// GemmBenchmarks: skipping device '{Device}': {e.Message}");
            return;
        }
        _operands = new GemmOperands(_backend, Shape);
        _operands.Run();
        _backend.Synchronize();
    }

    [Benchmark]
    public void Gemm()
    {
        if (_operands is null) return; // device not present
        _operands.Run();
        _backend!.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _operands?.Dispose();
        _backend?.Dispose();
    }
}
