using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>Shared by the method tests: after the first steps, 200 warm steps allocate nothing and lower the loss.</summary>
internal static class MethodTraining
{
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
