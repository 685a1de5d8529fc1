using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// The mixture-of-experts kernels at the MMoE workload (8 experts of 512→256, batch 512; 3 tasks): the batched
/// expert GEMM with bias + ReLU epilogue in one launch, against the same work as 8 separate dense GEMMs (the baseline);
/// the softmax over 8 experts and its backward; the gated mixture and its two backward kernels. Every benchmark ends
/// with <see cref="Backend.Synchronize"/>.
/// </summary>
[MemoryDiagnoser]
public class MixtureBenchmarks
{
    private const int Experts = 8, Batch = 512, Inputs = 512, Width = 256;

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dx = null!, _logits = null!, _gates = null!, _dg = null!, _mixed = null!;

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
        _x = _backend.Allocate<float>(R(Batch * Inputs));
        _w = _backend.Allocate<float>(R(Experts * Width * Inputs));
        _b = _backend.Allocate<float>(R(Experts * Width));
        _y = _backend.Allocate<float>(Experts * Batch * Width);
        _dy = _backend.Allocate<float>(R(Batch * Width));
        _dx = _backend.Allocate<float>(Experts * Batch * Width);
        _logits = _backend.Allocate<float>(R(Batch * Experts));
        _gates = _backend.Allocate<float>(Batch * Experts);
        _dg = _backend.Allocate<float>(Batch * Experts);
        _mixed = _backend.Allocate<float>(Batch * Width);
        _backend.SoftmaxRows(_logits.View, Batch, Experts, _gates.View);
        _backend.BatchedGemm(false, true, Batch, Width, Inputs, 1, _x.View, 0, _w.View, Width * Inputs, 0, _y.View, Batch * Width, Experts, _b.View, Width, Activation.Relu);
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new IDisposable[] { _x, _w, _b, _y, _dy, _dx, _logits, _gates, _dg, _mixed }) buffer.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "8 expert layers 512→256, batch 512: 8 dense GEMMs")]
    public void SeparateGemms()
    {
        for (int e = 0; e < Experts; e++)
            _backend.Gemm(false, true, Batch, Width, Inputs, 1, _x.View, _w.View.Slice(e * Width * Inputs, Width * Inputs), 0,
                _y.View.Slice(e * Batch * Width, Batch * Width), _b.View.Slice(e * Width, Width), Activation.Relu);
        _backend.Synchronize();
    }

    [Benchmark(Description = "the same: one batched GEMM")]
    public void BatchedGemm()
    {
        _backend.BatchedGemm(false, true, Batch, Width, Inputs, 1, _x.View, 0, _w.View, Width * Inputs, 0, _y.View, Batch * Width, Experts, _b.View, Width, Activation.Relu);
        _backend.Synchronize();
    }

    [Benchmark(Description = "softmax over 8 experts + backward, batch 512")]
    public void Softmax()
    {
        _backend.SoftmaxRows(_logits.View, Batch, Experts, _gates.View);
        _backend.SoftmaxRowsBackward(_gates.View, _logits.View, Batch, Experts, _dg.View, accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark(Description = "gated mixture of 8×[512×256] + both backward kernels")]
    public void Mixture()
    {
        _backend.Mixture(_y.View, _gates.View, Experts, Batch, Width, _mixed.View);
        _backend.MixtureBackwardExperts(_gates.View, _dy.View, Experts, Batch, Width, _dx.View, accumulate: false);
        _backend.MixtureBackwardGates(_y.View, _dy.View, Experts, Batch, Width, _dg.View, accumulate: false);
        _backend.Synchronize();
    }
}
