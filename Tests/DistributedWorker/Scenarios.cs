using System.Globalization;
using Engine.Distributed;
using Engine.Kernels;

namespace Engine.DistributedWorker;

internal static class Scenarios
{
    /// <summary>Each collective on values that depend on the rank, printed as "name: v1 v2 …" (round-trip formats).</summary>
    public static void Collectives(ICommunicator c, Backend<float> backend, List<string> output)
    {
        int r = c.Rank;
        output.Add($"rank: {r}");
        output.Add($"size: {c.Size}");
        // x[i] = (r + 1)·(i + 1): the sum over ranks is (i + 1)·P(P + 1)/2, exact in float32 for these sizes.
        var values = Enumerable.Range(0, 1000).Select(i => (float)((r + 1) * (i + 1))).ToArray();
        using var buffer = backend.Allocate<float>(values);
        c.AllReduceSum(buffer.Slice(10, 990));       // an offset view: elements 0 … 9 stay this rank's
        output.Add("allreduce: " + Join(backend.ToArray(buffer.View)));
        var doubles = new[] { 0.5 * r, 1e300, -r };
        c.AllReduceSum(doubles);
        output.Add("allreduce-double: " + string.Join(' ', doubles.Select(d => d.ToString("R", CultureInfo.InvariantCulture))));
        using var broadcast = backend.Allocate<float>([r + 0.25f, 7f * r]);
        c.Broadcast(broadcast.View, c.Size - 1);
        output.Add("broadcast: " + Join(backend.ToArray(broadcast.View)));
        output.Add($"agree-same: {c.AllAgree(0x1234_5678_9ABC_DEF0L)}");
        output.Add($"agree-rank: {c.AllAgree(r == 0 ? long.MinValue : long.MaxValue)}");
        c.Barrier();
        output.Add("barrier: passed");
    }

    private static string Join(float[] values) => string.Join(' ', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}
