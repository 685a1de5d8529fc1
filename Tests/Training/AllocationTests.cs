using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A warm <see cref="TrainingStep.Run"/> allocates nothing on the managed heap (and, by the arena's design, nothing on
/// the device). Measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> over 20 steps on the CPU backend at
/// sizes where every kernel runs on the calling thread (the CPU backend's Parallel.For starts above 2¹⁶ elements of
/// work, and Parallel.For allocates its tasks and closures on the calling thread).
/// <para>Measured above the threshold (trunk [64, 64], 1024 and 4096 rows): about 1.8 KB per parallel launch
/// (elementwise, activation, NT/NN GEMMs: constant per launch), and the weight-gradient GEMM (TN, k = batch rows)
/// launches two Parallel.For per KC block of the batch, so it allocates ≈14.5 KB at 1024 rows and ≈58 KB at 4096;
/// a whole step allocated ≈26 KB at 1024 rows and ≈131 KB at 4096. That is kernel-level launch overhead
/// (Kernels/Gemm/CpuGemm.cs, Kernels/Elementwise/CpuChunks.cs), not the step's own code.</para>
/// </summary>
public class AllocationTests
{
    public static TheoryData<CombinationMethod, WeightingMethod> Paths => new()
    {
        { CombinationMethod.Sum, WeightingMethod.Static },
        { CombinationMethod.Sum, WeightingMethod.LossBalanced },
        { CombinationMethod.Sum, WeightingMethod.Uncertainty },
        { CombinationMethod.PcGrad, WeightingMethod.Static },
        { CombinationMethod.MgdaUb, WeightingMethod.LossBalanced },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_warm_step_allocates_nothing(CombinationMethod combination, WeightingMethod weighting)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, Weighting = weighting, MaxGradNorm = 1.0 }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16); // warm: the arena and the pools grow here

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(24, step.ReadStatistics().Steps);
    }

    [Fact]
    public void Reordering_an_epoch_allocates_nothing()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1), shuffleable: true);
        var order = Enumerable.Range(0, 64).Reverse().ToArray();
        device.Reorder(order);
        long before = GC.GetAllocatedBytesForCurrentThread();
        device.Reorder(order);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
