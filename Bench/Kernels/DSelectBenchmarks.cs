using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// The DSelect-k gate kernels (docs/maths.md §17.5) at the MMoE workload's size: 8 experts (m = 3 code bits), k = 2
/// selectors, batch 512, one task's gate: the smooth-step and its backward on the [512 × k·m] code logits, the selectors
/// [k·512 × 8] and their backward, and the entropy terms. Every benchmark ends with <see cref="Backend.Synchronize"/>.
/// </summary>
[MemoryDiagnoser]
public class DSelectBenchmarks
{
    private const int Batch = 512, Selectors = 2, Bits = 3, Experts = 1 << Bits;

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _z = null!, _s = null!, _ds = null!, _dz = null!, _r = null!, _dr = null!, _terms = null!, _derivative = null!;

    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var rng = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _z = _backend.Allocate<float>(R(Batch * Selectors * Bits));
        _ds = _backend.Allocate<float>(R(Batch * Selectors * Bits));
        _dr = _backend.Allocate<float>(R(Selectors * Batch * Experts));
        _s = _backend.Allocate<float>(Batch * Selectors * Bits);
        _dz = _backend.Allocate<float>(Batch * Selectors * Bits);
        _r = _backend.Allocate<float>(Selectors * Batch * Experts);
        _terms = _backend.Allocate<float>(Selectors * Batch * Experts);
        _derivative = _backend.Allocate<float>(Selectors * Batch * Experts);
        _backend.SmoothStep(_z.View, 1f, _s.View);
        _backend.Selectors(_s.View, Batch, Selectors, Bits, _r.View);
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new IDisposable[] { _z, _s, _ds, _dz, _r, _dr, _terms, _derivative }) buffer.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Description = "smooth-step + backward, 512×6")]
    public void SmoothStep()
    {
        _backend.SmoothStep(_z.View, 1f, _s.View);
        _backend.SmoothStepBackward(_z.View, _ds.View, 1f, _dz.View, accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark(Description = "2 selectors over 8 experts + backward, batch 512")]
    public void SelectorsForwardBackward()
    {
        _backend.Selectors(_s.View, Batch, Selectors, Bits, _r.View);
        _backend.SelectorsBackward(_s.View, _dr.View, Batch, Selectors, Bits, _ds.View, accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark(Description = "entropy terms of 2×512×8 selector weights")]
    public void Entropy()
    {
        _backend.EntropyTerms(_r.View, 1f, _terms.View, _derivative.View);
        _backend.Synchronize();
    }
}
