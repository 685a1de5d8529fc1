using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Optimizers;

/// <summary>
/// The O(T·P) passes of the stateful gradient methods and the guard that keeps a skipped step out of their state, on
/// the SIMD CPU path, ILGPU's CPU accelerator and CUDA when present (<see cref="BenchDevices.Float32WithEmulator"/>):
/// T = 4 task gradients of P = 65,536 shared parameters (2,048 on the emulator). MoCo's tracking with its Gram matrix (<see cref="Backend{T}.MocoTrack"/>, float4 rows
/// on ILGPU), DB-MTL's moving average with its norms (<see cref="Backend{T}.DbMtlAverage"/>), ExcessMTL's squared sums and risks
/// (<see cref="Backend{T}.ExcessRisks"/>), each also with its <c>saved</c> argument (the skipped-step guard's copy written by
/// the pass) beside the plain copy it replaces, and <see cref="Backend{T}.CopyIfSkipped"/> over the 4 × P state (MoCo's Y)
/// when the step ran (the flag read, nothing copied) and when it was skipped (a copy), plus its float64 form over GradVac's
/// 4² + 1 doubles. Every benchmark ends with <see cref="Backend.Synchronize"/>, so a launch is timed to completion.
/// <code>dotnet run -c Release --project Bench -- --filter '*MethodStateBenchmarks*' --job short --buildTimeout 1200</code>
/// </summary>
[MemoryDiagnoser]
public class MethodStateBenchmarks
{
    private const int Tasks = 4;

    /// <summary>P: 65,536, or 2,048 on ILGPU's CPU accelerator (it runs each GPU thread in turn).</summary>
    private int Length => Device == "ilgpu-cpu" ? 2_048 : 65_536;

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _gradients = null!, _state = null!, _saved = null!, _scales = null!, _weights = null!, _steps = null!;
    private DeviceBuffer<float> _squaredSums = null!, _risks = null!, _gram = null!, _ran = null!, _skipped = null!;
    private DeviceBuffer<double> _state64 = null!, _saved64 = null!;

    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32WithEmulator();

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var random = new Random(3);
        float[] Values(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale))];
        _gradients = _backend.Allocate<float>(Values(Tasks * Length, 1));
        _state = _backend.Allocate<float>(Values(Tasks * Length, 1));
        _saved = _backend.Allocate<float>(Values(Tasks * Length, 1));
        _scales = _backend.Allocate<float>([0.1f, 0.2f, 0.3f, 0.4f, 0.9f]);      // βₜsᵢ for each task, then 1 − βₜ
        _weights = _backend.Allocate<float>([1f, 0.5f, 2f, 1.5f]);
        _steps = _backend.Allocate<float>([3f]);
        _squaredSums = _backend.Allocate<float>(Values(Tasks * Length, 1).Select(Math.Abs).ToArray());
        _risks = _backend.Allocate<float>(Tasks);
        _gram = _backend.Allocate<float>(Tasks * Tasks);
        var control = new float[StepControl.Length];
        _ran = _backend.Allocate<float>(control);
        control[StepControl.Skip] = 1;
        _skipped = _backend.Allocate<float>(control);
        _state64 = _backend.Allocate<double>(new double[Tasks * Tasks + 1]);
        _saved64 = _backend.Allocate<double>(Enumerable.Range(0, Tasks * Tasks + 1).Select(i => 0.01 * i).ToArray());
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new IDisposable[] { _gradients, _state, _saved, _scales, _weights, _steps, _squaredSums, _risks, _gram, _ran, _skipped, _state64, _saved64 })
            buffer.Dispose();
        _backend.Dispose();
    }

    /// <summary>MoCo's tracking pass: Y ← scales[T]·Y + scales[i]·gᵢ over the T × P rows, and the Gram matrix of the new Y.</summary>
    [Benchmark]
    public void MocoTrack() { _backend.MocoTrack(_state.View, _gradients.View, Tasks, Length, _scales.View, _gram.View); _backend.Synchronize(); }

    /// <summary>DB-MTL's moving average of the weighted task gradients at step 4 (β = 0.9, σ = 0.5), and its squared norms.</summary>
    [Benchmark]
    public void DbMtlAverage()
    {
        _backend.DbMtlAverage(_gradients.View, Tasks, Length, _weights.View, _steps.View, 0.9, 0.5, _state.View, _gram.View.Slice(0, Tasks));
        _backend.Synchronize();
    }

    /// <summary>ExcessMTL's pass: S ← S + g² in place and rᵢ = Σₚ gᵢₚ²/√(Sᵢₚ + ε).</summary>
    [Benchmark]
    public void ExcessRisks() { _backend.ExcessRisks(_gradients.View, Tasks, _squaredSums.View, _risks.View); _backend.Synchronize(); }

    /// <summary><see cref="MocoTrack"/> writing the old Y to the guard's buffer as it reads it (a training step's call:
    /// <c>IStateSavedByItsPass</c>) — one more write stream instead of the guard's copy before the step.</summary>
    [Benchmark]
    public void MocoTrack_saving() { _backend.MocoTrack(_state.View, _gradients.View, Tasks, Length, _scales.View, _gram.View, _saved.View); _backend.Synchronize(); }

    /// <summary><see cref="DbMtlAverage"/> writing the old averages to the guard's buffer.</summary>
    [Benchmark]
    public void DbMtlAverage_saving()
    {
        _backend.DbMtlAverage(_gradients.View, Tasks, Length, _weights.View, _steps.View, 0.9, 0.5, _state.View, _gram.View.Slice(0, Tasks), _saved.View);
        _backend.Synchronize();
    }

    /// <summary><see cref="ExcessRisks"/> writing the old S to the guard's buffer.</summary>
    [Benchmark]
    public void ExcessRisks_saving() { _backend.ExcessRisks(_gradients.View, Tasks, _squaredSums.View, _risks.View, _saved.View); _backend.Synchronize(); }

    /// <summary>What the guard did before the passes saved the state themselves, and still does for the other methods'
    /// state: the copy of the 4 × P state before the step.</summary>
    [Benchmark]
    public void Copy_before_the_step() { _backend.Copy(_state.View, _saved.View); _backend.Synchronize(); }

    /// <summary>The guard after a step that ran (the usual case): the flag is read, nothing is copied.</summary>
    [Benchmark]
    public void CopyIfSkipped_ran() { _backend.CopyIfSkipped(_ran.View, _saved.View, _state.View); _backend.Synchronize(); }

    /// <summary>The guard after a skipped step: the 4 × P state is copied back.</summary>
    [Benchmark]
    public void CopyIfSkipped_skipped() { _backend.CopyIfSkipped(_skipped.View, _saved.View, _state.View); _backend.Synchronize(); }

    /// <summary>The float64 guard over GradVac's targets and step count (T² + 1 = 17 doubles), skipped (a copy).</summary>
    [Benchmark]
    public void CopyIfSkippedFloat64_skipped() { _backend.CopyIfSkippedFloat64(_skipped.View, _saved64.View, _state64.View); _backend.Synchronize(); }
}
