using BenchmarkDotNet.Attributes;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;

namespace Engine.Bench.Kernels;

/// <summary>
/// The elementwise, reduction and loss kernels on each float32 device this machine has ("cpu" always,
/// "cuda" when present), at a small, a medium and a large size. Every benchmark ends with
/// <see cref="Backend.Synchronize"/>, so a GPU launch is timed to completion. A plain scalar loop
/// (the <c>Baseline</c>) shows what the SIMD path buys on the CPU.
/// Matrices for ColumnSums and the losses are N/Classes rows × Classes columns.
/// </summary>
[MemoryDiagnoser]
public class ElementwiseBenchmarks
{
    private const int Classes = 10;

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _x = null!, _y = null!, _dx = null!, _probabilities = null!, _scalar = null!, _sums = null!;
    private DeviceBuffer<int> _labels = null!;
    private float[] _hostX = null!, _hostY = null!;

    /// <summary>Elements per tensor.</summary>
    [Params(1_000, 100_000, 4_000_000)]
    public int N { get; set; }

    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32();

    private int Batch => N / Classes;

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var rng = new Random(1);
        _hostX = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        _hostY = Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _x = _backend.Allocate<float>(_hostX);
        _y = _backend.Allocate<float>(_hostY);
        _dx = _backend.Allocate<float>(N);
        _probabilities = _backend.Allocate<float>(Batch * Classes);
        _scalar = _backend.Allocate<float>([0.5f]);
        _sums = _backend.Allocate<float>(Classes);
        _labels = _backend.Allocate<int>(Enumerable.Range(0, Batch).Select(_ => rng.Next(Classes)).ToArray());
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new IDisposable[] { _x, _y, _dx, _probabilities, _scalar, _sums, _labels }) buffer.Dispose();
        _backend.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Axpy, plain scalar loop on host arrays")]
    public void AxpyScalarLoop()
    {
        float[] x = _hostX, y = _hostY;
        for (int i = 0; i < x.Length; i++) y[i] += 0.5f * x[i];
    }

    [Benchmark]
    public void Axpy() { _backend.Axpy(0.5f, _x.View, _y.View); _backend.Synchronize(); }

    [Benchmark]
    public void ScaleByScalar() { _backend.ScaleByScalar(_x.View, _scalar.View, _dx.View, accumulate: true); _backend.Synchronize(); }

    [Benchmark]
    public void TanhForward() { _backend.ActivationForward(Activation.Tanh, _x.View, _dx.View); _backend.Synchronize(); }

    [Benchmark]
    public void ReluBackwardFromOutput() { _backend.ActivationBackwardFromOutput(Activation.Relu, _x.View, _y.View, _dx.View, accumulate: false); _backend.Synchronize(); }

    [Benchmark]
    public void SigmoidBackwardFromInput() { _backend.ActivationBackwardFromInput(Activation.Sigmoid, _x.View, _y.View, _dx.View, accumulate: true); _backend.Synchronize(); }

    [Benchmark]
    public void Sum() { _backend.Sum(_x.View, _scalar.View, 1f / N); _backend.Synchronize(); }

    [Benchmark]
    public void Dot() { _backend.Dot(_x.View, _y.View, _scalar.View); _backend.Synchronize(); }

    [Benchmark]
    public void ColumnSums() { _backend.ColumnSums(_x.Slice(0, Batch * Classes), Batch, Classes, _sums.View, accumulate: false); _backend.Synchronize(); }

    [Benchmark]
    public void MseForwardAndBackward()
    {
        _backend.MseForward(_x.View, _y.View, _scalar.View);
        _backend.MseBackward(_x.View, _y.View, _scalar.View, _dx.View, accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark]
    public void SoftmaxCrossEntropyForwardAndBackward()
    {
        var logits = _x.Slice(0, Batch * Classes);
        _backend.SoftmaxCrossEntropyForward(logits, _labels.View, Batch, Classes, _probabilities.View, _sums.Slice(0, 1));
        _backend.SoftmaxCrossEntropyBackward(_probabilities.View, _labels.View, Batch, Classes, _sums.Slice(0, 1), _dx.Slice(0, Batch * Classes), accumulate: false);
        _backend.Synchronize();
    }

    [Benchmark]
    public void CountCorrect() { _backend.CountCorrect(_x.Slice(0, Batch * Classes), _labels.View, Batch, Classes, _scalar.View); _backend.Synchronize(); }
}
