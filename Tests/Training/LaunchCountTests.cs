using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Kernel launches and host synchronisations of ONE warm training step on the ILGPU path (ILGPU's CPU accelerator),
/// counted by <see cref="IlgpuBackend.Counters"/>, for the <see cref="Problems.Spec"/> model with a trunk of L tanh
/// layers, heads "reg" (2 outputs, masked MSE) and "cls" (3 classes, masked softmax cross-entropy), Adam, clipping.
/// Zero host syncs and uploads inside a step, and an exact launch count (the formula on <see cref="Expected"/>):
/// per trunk layer forward 1 (the GEMM with bias and activation fused) and backward 4 under Sum (activation backward,
/// dX GEMM, dW GEMM, bias column sums; no dX into the data), 3T + 2 under PCGrad (per task: activation backward, dW,
/// column sums; one stacked dX).
/// </summary>
public class LaunchCountTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, CombinationMethod.Sum)]
    [InlineData(3, CombinationMethod.Sum)]
    [InlineData(1, CombinationMethod.PcGrad)]
    [InlineData(3, CombinationMethod.PcGrad)]
    public void A_warm_step_launches_a_fixed_count_and_never_syncs(int layers, CombinationMethod combination)
    {
        var ilgpu = (IlgpuBackend)TestDevices.Get(TestDevices.IlgpuCpu);
        using var model = MultiTaskModel.Create(Problems.Spec(trunk: [.. Enumerable.Repeat(6, layers)]), ilgpu);
        using var data = DeviceDataset.Upload(model, Problems.Data(8, seed: 3));
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, MaxGradNorm = 1.0, TrackMetrics = false }, 8);
        step.Run(data, 0, 8); // warm: kernel compilation, arena growth
        ilgpu.Synchronize();

        var histogram = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var before = ilgpu.Counters;
        ilgpu.LaunchObserver = op => histogram[op] = histogram.GetValueOrDefault(op) + 1;
        try { step.Run(data, 0, 8); }
        finally { ilgpu.LaunchObserver = null; }
        var counted = ilgpu.Counters - before;
        foreach (var (op, n) in histogram) output.WriteLine($"{op}: {n}");
        output.WriteLine(counted.ToString());

        Assert.Equal(0, counted.HostSyncs);
        Assert.Equal(0, counted.Uploads);
        var expected = Expected(layers, combination);
        Assert.Equal(expected.Gemm, histogram.GetValueOrDefault("Gemm"));
        Assert.Equal(expected.ColumnSums, histogram.GetValueOrDefault("ColumnSums"));
        Assert.Equal(expected.ActivationBackward, histogram.GetValueOrDefault("LaunchActivationBackward"));
        Assert.Equal(expected.Total, counted.Launches);
        Assert.Equal(counted.Launches, histogram.Values.Sum());
    }

    /// <summary>Every registered method but <c>accuracy</c> (it needs every task to be a classification; an epoch-level
    /// weighting, it does nothing inside a step).</summary>
    public static TheoryData<string> Methods() => [.. Engine.Optimizers.MethodRegistry.All.Select(m => m.Name).Where(n => n != "accuracy")];

    /// <summary>Issue 13's "no host sync inside a step": a warm step of every registered method, on the ILGPU path, makes
    /// no host synchronisation and no upload (<see cref="IlgpuBackend.Counters"/>) — whatever its solver (QPs, Nash's
    /// convex steps, eigen-decompositions, the MoCo and FAMO updates) does, it does on the device.</summary>
    [Theory]
    [MemberData(nameof(Methods))]
    public void A_warm_step_of_every_method_never_syncs_or_uploads(string method)
    {
        var ilgpu = (IlgpuBackend)TestDevices.Get(TestDevices.IlgpuCpu);
        using var model = MultiTaskModel.Create(Problems.Spec(), ilgpu);
        using var data = DeviceDataset.Upload(model, Problems.Data(8, seed: 3));
        using var step = new TrainingStep(model, new StepOptions { Method = method, MaxGradNorm = 1.0, TrackMetrics = false }, 8);
        step.Run(data, 0, 8);   // warm: kernel compilation, arena growth
        ilgpu.Synchronize();
        var before = ilgpu.Counters;
        step.Run(data, 0, 8);
        var counted = ilgpu.Counters - before;
        Assert.True(counted.Launches > 0, $"{method}: the step launched nothing (the counters do not see it)");
        Assert.Equal(0, counted.HostSyncs);
        Assert.Equal(0, counted.Uploads);
    }

    private readonly record struct Launches(long Gemm, long ColumnSums, long ActivationBackward, long Rest)
    {
        public long Total => Gemm + ColumnSums + ActivationBackward + Rest;
    }

    /// <summary>
    /// The formula, for L trunk layers, T = 2 tasks (each with its own linear head), H = 2 heads:
    /// <list type="bullet">
    /// <item>Sum: GEMMs L (forward) + L (dW) + (L − 1) (dX; none into the data) + 3H (heads: forward, dX, dW) = 3L + 5;
    /// column sums (bias gradients) L + H; activation backward L (tanh; the heads are linear).</item>
    /// <item>PCGrad (the per-task backward, tasks stacked through the trunk): GEMMs L + T·L (per-task dW) + (L − 1)
    /// (one stacked dX) + 3H = (T + 2)L + 5; column sums T·L + H; activation backward T·L.</item>
    /// <item>The rest, independent of L, by backend operation. Sum, 27: Linear (fill, axpy) 4, Copy 5, the two masked
    /// losses 6 (forward, finish, backward each), the weighted sum 4 (ReduceTerms, FinishReduction, ScaleByScalar 2),
    /// clipping 3 (memset + SegmentedSumOfSquares, UpdateStepControl), GateStepControl 2, AdamStep 3.
    /// PCGrad, 32: Linear 5, Copy 4, the masked losses 6, ScaleByScalar 2 (λₜ on each head's own
    /// parameters), Gram 2 (memset + kernel), CombinationCoefficients 1, LinearCombination 1, GradientDiagnostics 1,
    /// clipping 3, GateStepControl 2, AdamStep 3, and the guard of PCGrad's device step count 2 (CopyFloat64 before the
    /// step, CopyIfSkippedFloat64 after it: a skipped step leaves the count, maths §14.4).</item>
    /// </list>
    /// The per-operation histogram (printed) is the itemisation; the test pins the L-dependent terms per operation.
    /// </summary>
    private static Launches Expected(int layers, CombinationMethod combination)
    {
        const int tasks = 2, heads = 2;
        return combination == CombinationMethod.Sum
            ? new(3L * layers + 5, layers + heads, layers, 27)
            : new((tasks + 2L) * layers + 5, (long)tasks * layers + heads, (long)tasks * layers, 32);
    }
}
