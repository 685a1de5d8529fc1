using BenchmarkDotNet.Attributes;
using Engine.Kernels;

namespace Engine.Bench.Kernels;

/// <summary>
/// The sample-weighted loss and metric kernels (docs/maths.md §19.11) and the scalar reductions' pass 1 (ILGPU's
/// <c>PartialSumsKernel</c> with each of its terms), on the SIMD CPU path, ILGPU's CPU accelerator and CUDA when present
/// (<see cref="BenchDevices.Float32WithEmulator"/>), for a batch of 16,384 rows (512 on the emulator): the weighted accuracy sums of 8-class
/// logits (<see cref="Backend{T}.WeightedCountCorrect"/>) and of 4 binary labels per row
/// (<see cref="Backend{T}.WeightedCountCorrectBinary"/>); the weighted L1 (β = 0) and Huber (δ = 1) losses, forward and
/// backward (<see cref="Backend{T}.MaskedSmoothL1Forward"/>, 4 targets per row, one in eight missing); the weighted
/// probability BCE, forward and backward (<see cref="Backend{T}.MaskedProbabilityCrossEntropyForward"/>); and
/// <see cref="Backend{T}.Sum"/> (Values), <see cref="Backend{T}.Dot"/> (Products) and <see cref="Backend{T}.MseForward"/>
/// (SquaredDifferences) over 65,536 elements (2,048). Row weights in [0, 2), a tenth of them 0. Every benchmark ends with
/// <see cref="Backend.Synchronize"/>.
/// <code>dotnet run -c Release --project Bench -- --filter '*WeightedLossBenchmarks*' --job short --buildTimeout 1200</code>
/// </summary>
[MemoryDiagnoser]
public class WeightedLossBenchmarks
{
    private const int Classes = 8, Columns = 4;

    /// <summary>Rows of the batch: 16,384, or 512 on ILGPU's CPU accelerator (it runs each GPU thread in turn: about 12 s
    /// per weighted-accuracy call at 16,384 rows on this machine).</summary>
    private int Rows => Device == "ilgpu-cpu" ? 512 : 16_384;

    private int Elements => Rows * Columns;

    private Backend<float> _backend = null!;
    private DeviceBuffer<float> _logits = null!, _binaryLogits = null!, _prediction = null!, _target = null!, _probabilities = null!;
    private DeviceBuffer<float> _rowWeights = null!, _gradient = null!, _sums = null!, _loss = null!, _count = null!, _weightSum = null!, _upstream = null!;
    private DeviceBuffer<int> _labels = null!, _binaryLabels = null!;

    /// <summary>The float32 device.</summary>
    [ParamsSource(nameof(Devices))]
    public string Device { get; set; } = "cpu";

    public static IEnumerable<string> Devices() => BenchDevices.Float32WithEmulator();

    [GlobalSetup]
    public void Setup()
    {
        _backend = Engine.Kernels.Device.Create(Device);
        var random = new Random(7);
        float[] Values(int n, double lo, double hi) => [.. Enumerable.Range(0, n).Select(_ => (float)(lo + random.NextDouble() * (hi - lo)))];
        _logits = _backend.Allocate<float>(Values(Rows * Classes, -3, 3));
        _binaryLogits = _backend.Allocate<float>(Values(Elements, -3, 3));
        _prediction = _backend.Allocate<float>(Values(Elements, -2, 2));
        var target = Values(Elements, -2, 2);
        for (int i = 0; i < target.Length; i += 8) target[i] = float.NaN;                      // one in eight missing
        _target = _backend.Allocate<float>(target);
        _probabilities = _backend.Allocate<float>(Values(Elements, 0.01, 0.99));
        var weights = Values(Rows, 0, 2);
        for (int r = 0; r < Rows; r += 10) weights[r] = 0;
        _rowWeights = _backend.Allocate<float>(weights);
        _labels = _backend.Allocate<int>([.. Enumerable.Range(0, Rows).Select(r => r % 16 == 0 ? -1 : random.Next(Classes))]);
        _binaryLabels = _backend.Allocate<int>([.. Enumerable.Range(0, Elements).Select(i => i % 16 == 0 ? -1 : random.Next(2))]);
        _gradient = _backend.Allocate<float>(Elements);
        _sums = _backend.Allocate<float>(2);
        _loss = _backend.Allocate<float>(1);
        _count = _backend.Allocate<float>(1);
        _weightSum = _backend.Allocate<float>(1);
        _upstream = _backend.Allocate<float>([1f]);
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var buffer in new IDisposable[] { _logits, _binaryLogits, _prediction, _target, _probabilities, _rowWeights, _labels, _binaryLabels,
                     _gradient, _sums, _loss, _count, _weightSum, _upstream })
            buffer.Dispose();
        _backend.Dispose();
    }

    [Benchmark]
    public void WeightedCountCorrect()
    {
        _backend.WeightedCountCorrect(_logits.View, _labels.View, _rowWeights.View, Rows, Classes, _sums.View);
        _backend.Synchronize();
    }

    [Benchmark]
    public void WeightedCountCorrectBinary()
    {
        _backend.WeightedCountCorrectBinary(_binaryLogits.View, _binaryLabels.View, _rowWeights.View, _sums.View);
        _backend.Synchronize();
    }

    private void SmoothL1(float beta, float scale)
    {
        _backend.MaskedSmoothL1Forward(_prediction.View, _target.View, beta, scale, _loss.View, _count.View, _rowWeights.View, _weightSum.View);
        _backend.MaskedSmoothL1Backward(_prediction.View, _target.View, beta, scale, _weightSum.View, _upstream.View, _gradient.View, accumulate: false, _rowWeights.View);
        _backend.Synchronize();
    }

    /// <summary>Weighted L1 (smooth L1 with β = 0), forward and backward.</summary>
    [Benchmark]
    public void WeightedL1ForwardAndBackward() => SmoothL1(0f, 1f);

    /// <summary>Weighted Huber with δ = 1 (β = δ, scale = δ), forward and backward.</summary>
    [Benchmark]
    public void WeightedHuberForwardAndBackward() => SmoothL1(1f, 1f);

    /// <summary>Weighted BCE on probabilities (ESMM's pCTCVR), forward and backward.</summary>
    [Benchmark]
    public void WeightedProbabilityBceForwardAndBackward()
    {
        _backend.MaskedProbabilityCrossEntropyForward(_probabilities.View, _binaryLabels.View, _loss.View, _count.View, _rowWeights.View, _weightSum.View);
        _backend.MaskedProbabilityCrossEntropyBackward(_probabilities.View, _binaryLabels.View, _weightSum.View, _upstream.View, _gradient.View, accumulate: false, _rowWeights.View);
        _backend.Synchronize();
    }

    /// <summary>The reductions' pass 1 with the Values term (then the partials' pass).</summary>
    [Benchmark]
    public void PartialSums_Values_Sum() { _backend.Sum(_prediction.View, _loss.View, 1f / _prediction.View.Length); _backend.Synchronize(); }

    /// <summary>The Products term.</summary>
    [Benchmark]
    public void PartialSums_Products_Dot() { _backend.Dot(_prediction.View, _probabilities.View, _loss.View); _backend.Synchronize(); }

    /// <summary>The SquaredDifferences term (the unmasked MSE forward).</summary>
    [Benchmark]
    public void PartialSums_SquaredDifferences_Mse() { _backend.MseForward(_prediction.View, _probabilities.View, _loss.View); _backend.Synchronize(); }
}
