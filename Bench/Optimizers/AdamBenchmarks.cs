using BenchmarkDotNet.Attributes;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;
using Engine.Optimizers;

namespace Engine.Bench.Optimizers;

/// <summary>
/// Fused Adam over 1M and 10M float32 parameters against a plain Copy of the same number of bytes (the
/// memory-bandwidth floor: Adam moves 28 bytes per parameter with AMSGrad off — θ, g, m, v read, θ, m, v written — so
/// the Copy moves 3.5·N floats from one buffer to another, as Compare/KernelComparison.cs does), and clip + Adam against Adam alone (clipping folded into the fused
/// kernel should add one read of g, not a read and a write). Beside them the other fused optimizers over the same
/// parameters: RMSprop plain (20 bytes per parameter: θ, g, v read, θ, v written) and centered with momentum (36 bytes:
/// ḡ and the buffer too), and Adagrad with lr decay (20 bytes: θ, g, the sum of squares read, θ and the sum written). Devices: the SIMD CPU path, and CUDA when this machine has it. GPU work is synchronised inside each operation so the time is the kernel's.
/// </summary>
[MemoryDiagnoser]
public class AdamBenchmarks
{
    private Backend<float> _backend = null!;
    private FlatParameters<float> _parameters = null!;
    private Adam<float> _adam = null!;
    private RmsProp<float> _rmsProp = null!, _rmsPropCentered = null!;
    private Adagrad<float> _adagrad = null!;
    private GradientClipper<float> _clipper = null!;
    private DeviceBuffer<float> _copySource = null!, _copyTarget = null!;

    /// <summary>Number of parameters.</summary>
    [Params(1_000_000, 10_000_000)]
    public int Parameters { get; set; }

    /// <summary>Device: "cpu", and "cuda" when a CUDA device exists.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    [GlobalSetup]
    public void Setup()
    {
        _backend = Device == "cuda"
            ? IlgpuBackend.TryCreateCuda() ?? throw new InvalidOperationException("No CUDA device.")
            : new CpuBackend<float>();
        _parameters = new FlatParameters<float>(_backend);
        // A dense-network-like layout: a few large weights and small biases.
        int weight = Parameters / 4 - 64;
        for (int i = 0; i < 4; i++)
        {
            _parameters.Add($"layer{i}.weight", weight);
            _parameters.Add($"layer{i}.bias", 64);
        }
        _parameters.Allocate();
        var random = new Random(1);
        var values = new float[_parameters.Count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        _backend.Upload<float>(values, _parameters.Values);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * 1e-3f;
        _backend.Upload<float>(values, _parameters.Gradients);
        _copySource = _backend.Allocate<float>(_parameters.Count / 2 * 7);
        _copyTarget = _backend.Allocate<float>(_parameters.Count / 2 * 7);
        _backend.Fill(_copySource.View, 1f);
        _adam = new Adam<float>(_backend, _parameters, AdamOptions.AdamW());
        _rmsProp = new RmsProp<float>(_backend, _parameters, new RmsPropOptions { LearningRate = 1e-3 });
        _rmsPropCentered = new RmsProp<float>(_backend, _parameters, new RmsPropOptions { LearningRate = 1e-3, Momentum = 0.9, Centered = true });
        _adagrad = new Adagrad<float>(_backend, _parameters, new AdagradOptions { LearningRateDecay = 1e-4 });
        _clipper = new GradientClipper<float>(_backend, _parameters, _adam.Control);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _clipper.Dispose();
        _adam.Dispose();
        _rmsProp.Dispose();
        _rmsPropCentered.Dispose();
        _adagrad.Dispose();
        _copySource.Dispose();
        _copyTarget.Dispose();
        _parameters.Dispose();
        _backend.Dispose();
    }

    /// <summary>The floor: copy 28·N bytes, what Adam moves (Copy is the elementwise family's kernel).</summary>
    [Benchmark(Baseline = true)]
    public void Copy()
    {
        _backend.Copy(_copySource.View, _copyTarget.View);
        _backend.Synchronize();
    }

    /// <summary>One fused AdamW step (no clipping: AdvanceStep + one launch per contiguous range).</summary>
    [Benchmark]
    public void Adam()
    {
        _adam.Step();
        _backend.Synchronize();
    }

    /// <summary>One fused RMSprop step, PyTorch's defaults (20 bytes per parameter).</summary>
    [Benchmark]
    public void RmsProp()
    {
        _rmsProp.Step();
        _backend.Synchronize();
    }

    /// <summary>One fused centered RMSprop step with momentum (36 bytes per parameter).</summary>
    [Benchmark]
    public void RmsPropCenteredMomentum()
    {
        _rmsPropCentered.Step();
        _backend.Synchronize();
    }

    /// <summary>One fused Adagrad step with lr decay (20 bytes per parameter; the decayed rate from the device step count).</summary>
    [Benchmark]
    public void Adagrad()
    {
        _adagrad.Step();
        _backend.Synchronize();
    }

    /// <summary>Global-norm clipping (one segmented reduction + one single-thread kernel) then the fused step.</summary>
    [Benchmark]
    public void ClipThenAdam()
    {
        _clipper.Clip(1.0);
        _adam.Step();
        _backend.Synchronize();
    }
}
