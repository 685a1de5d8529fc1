using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// The training step and trainer on the ILGPU kernels. On ILGPU's CPU accelerator most of the time is the first
/// compilation of each kernel (shared with the kernel parity tests through <see cref="TestDevices"/>), so this lives in
/// its own class and keeps the sizes tiny.
/// </summary>
public class IlgpuTrainingTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The ILGPU kernels (on ILGPU's CPU accelerator, or CUDA where present): three PCGrad steps with clipping
    /// agree with the SIMD CPU path within float32 tolerance (different summation orders).</summary>
    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Steps_on_the_ilgpu_kernels_match_the_cpu_path(string device)
    {
        var ilgpu = TestDevices.Get(device);
        var spec = Problems.Spec();
        var data = Problems.Data(8, seed: 3);
        using var a = MultiTaskModel.Create(spec, Cpu);
        using var b = MultiTaskModel.Create(spec, ilgpu);
        var options = new StepOptions { LearningRate = 0.01, Combination = CombinationMethod.PcGrad, MaxGradNorm = 1 };
        using var da = DeviceDataset.Upload(a, data);
        using var db = DeviceDataset.Upload(b, data);
        using var sa = new TrainingStep(a, options, 8);
        using var sb = new TrainingStep(b, options, 8);
        for (int s = 0; s < 3; s++) { sa.Run(da, 0, 8); sb.Run(db, 0, 8); }
        Tolerance.AllClose(Tolerance.ToDouble(Cpu.ToArray(a.Parameters.Values)), ilgpu.ToArray(b.Parameters.Values), 1e-4, 1e-5, "parameters");
        var ma = sa.ReadStatistics().Tasks;
        var mb = sb.ReadStatistics().Tasks;
        for (int t = 0; t < 2; t++) Assert.Equal(ma[t].Loss, mb[t].Loss, 1e-5);
        Assert.Equal(ma[1].Accuracy, mb[1].Accuracy);

        // A short Fit with validation (mini-batches, reorder, evaluation) on both devices.
        var options2 = new TrainerOptions { Epochs = 2, BatchSize = 4, Seed = 1, Step = options };
        var valid = Problems.Data(6, seed: 4, scale: true);
        var ra = new Trainer(options2).Fit(a, data, valid, cancellationToken: Ct);
        var rb = new Trainer(options2).Fit(b, data, valid, cancellationToken: Ct);
        for (int t = 0; t < 2; t++)
        {
            var va = ra.History[^1].Validation![t];
            var vb = rb.History[^1].Validation![t];
            Assert.Equal(va.Loss, vb.Loss, 1e-4);
            Assert.Equal(va.Rmse ?? 0, vb.Rmse ?? 0, 1e-4);
            Assert.Equal(va.Mae ?? 0, vb.Mae ?? 0, 1e-4);
            Assert.Equal(va.Accuracy, vb.Accuracy);
        }
    }
}
