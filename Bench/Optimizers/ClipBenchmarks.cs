using BenchmarkDotNet.Attributes;
using Engine.Bench.Workloads;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Optimizers;

/// <summary>
/// Global-norm clipping (one segmented sum of squares over the flat gradient buffer — every per-parameter norm and
/// the total — then the one-element step-control update) on each workload's parameter layout, float32 CPU, against
/// a plain read of the same bytes (a dot product of the buffer with itself, the floor for any pass that reads g
/// once). Clipping itself writes nothing: Adam applies the scale as it reads g, so clip + Adam − Adam alone is
/// the cost clipping adds to a step.
/// <code>dotnet run -c Release --project Bench -- --filter '*ClipBenchmarks*' --job short</code>
/// </summary>
[MemoryDiagnoser]
public class ClipBenchmarks
{
    private CpuBackend<float> _backend = null!;
    private FlatParameters<float> _parameters = null!;
    private Adam<float> _adam = null!;
    private GradientClipper<float> _clipper = null!;
    private DeviceBuffer<float> _scalar = null!;

    [Params("small", "medium", "large")]
    public string Workload { get; set; } = "small";

    [GlobalSetup]
    public void Setup()
    {
        int threads = int.TryParse(Environment.GetEnvironmentVariable("ENGINE_BENCH_THREADS"), out int t) ? t : 2;
        _backend = new CpuBackend<float>(threads);
        var workload = Workloads.Workload.Named(Workload);
        _parameters = new FlatParameters<float>(_backend);
        int layer = 0;
        foreach (var (inputs, outputs) in workload.TrunkLayers)
        {
            _parameters.Add($"trunk.{layer}.weight", outputs, inputs);
            _parameters.Add($"trunk.{layer++}.bias", outputs);
        }
        for (int h = 0; h < workload.Tasks; h++)
        {
            _parameters.Add($"heads.{h}.weight", workload.Heads[h].Outputs, workload.Width);
            _parameters.Add($"heads.{h}.bias", workload.Heads[h].Outputs);
        }
        _parameters.Allocate();
        var random = new Random(5);
        var values = new float[_parameters.Count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _backend.Upload<float>(values, _parameters.Gradients);
        _adam = new Adam<float>(_backend, _parameters);
        _clipper = new GradientClipper<float>(_backend, _parameters, _adam.Control);
        _scalar = _backend.Allocate<float>(1);
    }

    /// <summary>The floor: read the gradient buffer once (‖g‖² as one dot product).</summary>
    [Benchmark(Baseline = true)]
    public void ReadOnce() => _backend.Dot(_parameters.Gradients, _parameters.Gradients, _scalar.View);

    /// <summary>The clipping pass: every per-parameter ‖gᵢ‖² and the total in one segmented reduction (what
    /// <see cref="GradientClipper{T}.Clip"/> runs before its one-element step-control update).</summary>
    [Benchmark]
    public void Norms() => _clipper.ComputeNorms();

    /// <summary>Clip at 1.0, then the Adam step that consumes the scale (Clip may run once per optimizer step).</summary>
    [Benchmark]
    public void ClipThenAdam()
    {
        _clipper.Clip(1.0);
        _adam.Step();
    }

    /// <summary>The Adam step alone (its control block unprepared, so it only counts the step on the device).</summary>
    [Benchmark]
    public void AdamAlone() => _adam.Step();

    [GlobalCleanup]
    public void Cleanup()
    {
        _scalar.Dispose();
        _clipper.Dispose();
        _adam.Dispose();
        _parameters.Dispose();
        _backend.Dispose();
    }
}
