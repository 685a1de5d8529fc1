using Engine.Tests.Infrastructure;
namespace Engine.Tests.Optimizers;

/// <summary>What the fused optimizers' tests share: the float32 parity grid and the no-allocation check.</summary>
internal static class OptimizerTestCases
{
    /// <summary>Every float32 device × the sizes 1, 7, 33, 257, 1000 (one scalar, a partial float4, several float4 with a tail,
    /// more than one chunk) × the given configuration indices.</summary>
    public static TheoryData<string, int, int> DevicesSizesConfigs(params int[] configs)
    {
        var data = new TheoryData<string, int, int>();
        foreach (var device in Infrastructure.TestDevices.Float32)
            foreach (int n in new[] { 1, 7, 33, 257, 1000 })
                foreach (int config in configs)
                    data.Add(device.Data, n, config);
        return data;
    }

    /// <summary>Runs <paramref name="step"/> once (JIT, first-call paths), then ten times, and asserts those ten allocated nothing.</summary>
    public static void AssertAllocatesNothingOnceWarm(Action step)
    {
        step();
        WarmAllocations.AssertNone(() => { for (int i = 0; i < 10; i++) step(); });
    }
}
