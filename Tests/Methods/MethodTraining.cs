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
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < perStep.Length; s++)
        {
            long start = GC.GetAllocatedBytesForCurrentThread();
            step.Run(device, (s % 4) * 16, 16);
            perStep[s] = GC.GetAllocatedBytesForCurrentThread() - start;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{allocated} bytes allocated over {perStep.Length} warm steps; by step (index: bytes): " +
            string.Join(", ", perStep.Select((bytes, index) => (bytes, index)).Where(p => p.bytes != 0).Select(p => $"{p.index}: {p.bytes}")));
        Assert.True(step.ReadStatistics().Tasks.Sum(t => t.Loss) < first);
    }
}
