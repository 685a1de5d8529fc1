using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>Shared by the method tests: after the first steps, 200 warm steps allocate nothing and lower the loss.</summary>
internal static class MethodTraining
{
    /// <summary>The task gradients (T = 3, six shared parameters) every method's PyTorch fixture uses
    /// (Tests/Fixtures/make_imtl_libmtl.py, make_aligned_mtl_libmtl.py, make_upgrad_reference.py; the last adds a fourth row).</summary>
    public static double[][] FixtureGradients() =>
    [
        [0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
        [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
        [0.1, 0.5, -0.9, 0.3, 0.20, 0.7],
    ];

    /// <summary>The weighted rows wᵢgᵢ.</summary>
    public static double[][] Weighted(double[][] g, double[] w) => [.. g.Select((r, i) => r.Select(v => w[i] * v).ToArray())];

    /// <summary>Reads the loss of the steps run so far, runs 200 more over the 4 batches of 16 of <paramref name="device"/>,
    /// asserts 0 bytes allocated on this thread and a lower mean loss. On failure the message lists the steps that
    /// allocated and how much (a one-off lazy initialisation reads differently from a per-step allocation).</summary>
    public static void WarmStepsAllocateNothingAndLowerTheLoss(TrainingStep step, DeviceDataset device)
    {
        double first = step.ReadStatistics().Tasks.Sum(t => t.Loss);
        step.ResetStatistics();
        var perStep = new long[200];
        WarmAllocations.AssertNone(() =>
        {
            for (int s = 0; s < perStep.Length; s++)
            {
                long start = GC.GetAllocatedBytesForCurrentThread();
                step.Run(device, (s % 4) * 16, 16);
                perStep[s] = GC.GetAllocatedBytesForCurrentThread() - start;
            }
        }, () => $"{perStep.Length} warm steps each time; by step of the second (index: bytes): " +
            string.Join(", ", perStep.Select((bytes, index) => (bytes, index)).Where(p => p.bytes != 0).Select(p => $"{p.index}: {p.bytes}")));
        Assert.True(step.ReadStatistics().Tasks.Sum(t => t.Loss) < first);
    }

    /// <summary>Gradients ×1e-8 give the update ×1e-8 (rtol 1e-9), over <paramref name="steps"/> steps of two combiners
    /// from <paramref name="make"/> (methods with state carry it), float64, T = <paramref name="tasks"/>, unequal weights.</summary>
    public static void AssertScaleInvariant(Func<Backend<double>, IGradientCombiner<double>> make, int tasks, int seed, int steps = 1)
    {
        var backend = TestDevices.Reference;
        double[] w = [.. Enumerable.Range(0, tasks).Select(i => 1.0 + 0.5 * (i % 3) - 0.25 * (i % 2))];
        IGradientCombiner<double> a = make(backend), b = make(backend);
        try
        {
            for (int s = 0; s < steps; s++)
            {
                var g = CombinationTestSupport.RandomGradients(tasks, 30, seed + s);
                var result = CombinationTestSupport.Run(backend, a, g, w);
                var tiny = CombinationTestSupport.Run(backend, b, [.. g.Select(r => r.Select(v => v * 1e-8).ToArray())], w);
                Tolerance.AllClose(result, [.. tiny.Select(v => v * 1e8)], 1e-9, 1e-14, $"scale 1e-8, step {s}");
            }
        }
        finally
        {
            (a as IDisposable)?.Dispose();
            (b as IDisposable)?.Dispose();
        }
    }

    /// <summary><paramref name="method"/> with <paramref name="options"/> trains on the shared problem (64 rows, batches of 16,
    /// learning rate 0.01) through the registry: 4 steps, then <see cref="WarmStepsAllocateNothingAndLowerTheLoss"/>, then
    /// <paramref name="check"/> on the step.</summary>
    public static void TrainsThroughTheRegistry(string method, Dictionary<string, string> options, Action<TrainingStep> check, int seed = 0)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01, CombinationSeed = seed, MethodOptions = options }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        WarmStepsAllocateNothingAndLowerTheLoss(step, device);
        check(step);
    }
}
