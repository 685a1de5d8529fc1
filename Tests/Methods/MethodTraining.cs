using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>Shared by the method tests: after the first steps, 200 warm steps allocate nothing and lower the loss.</summary>
internal static class MethodTraining
{
    /// <summary>Reads the loss of the steps run so far, runs 200 more over the 4 batches of 16 of <paramref name="device"/>,
    /// asserts 0 bytes allocated on this thread and a lower mean loss.</summary>
    public static void WarmStepsAllocateNothingAndLowerTheLoss(TrainingStep step, DeviceDataset device)
    {
        double first = step.ReadStatistics().Tasks.Sum(t => t.Loss);
        step.ResetStatistics();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 200; s++) step.Run(device, (s % 4) * 16, 16);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(step.ReadStatistics().Tasks.Sum(t => t.Loss) < first);
    }
}
