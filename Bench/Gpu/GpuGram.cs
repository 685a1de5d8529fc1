using System.Globalization;
using Engine.Bench.Compare;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Bench.Gpu;

/// <summary>
/// <c>gpu gram</c>: the Gram matrix of T task gradients over N shared parameters (T = 4, N = 10M by default; reads
/// 4·T·N bytes) and the full projection combination (<see cref="ProjectionCombiner{T}"/>: the Gram pass, the T×T
/// coefficient solve on the device, the linear combination; reads 8·T·N bytes and writes 4·N), against a
/// device-to-device copy of the T·N floats (8·T·N bytes moved), beside PyTorch (<c>G @ G.T</c>; the same projection
/// from it, then <c>c @ G</c>). Target on the H200: both ≥ 80 % of the copy's bandwidth.
/// </summary>
public static class GpuGram
{
    public static void Run(Backend<float> backend, GpuOptions o, TorchPeer? peer)
    {
        int t = o.Tasks, n = checked((int)o.Params[0]);
        var random = new Random(1);
        var host = new float[(long)t * n];
        for (long i = 0; i < host.LongLength; i++) host[i] = (float)(random.NextDouble() * 2 - 1);
        using var gradients = backend.Allocate<float>(host);
        using var copy = backend.Allocate<float>(host.Length);
        using var weights = backend.Allocate<float>([.. Enumerable.Repeat(1f, t)]);
        using var gram = backend.Allocate<float>(t * t);
        using var output = backend.Allocate<float>(n);
        using var projection = new ProjectionCombiner<float>(backend);
        var gramTime = GpuCommand.Time(backend, o, () => backend.Gram(gradients.View, t, n, gram.View));
        var projectionTime = GpuCommand.Time(backend, o, () => projection.Combine(gradients.View, t, weights.View, output.View));
        var copyTime = GpuCommand.Time(backend, o, () => backend.Copy(gradients.View, copy.View));
        var records = peer?.Run(o.PeerArguments("--part", "gram", "--params", n.ToString(CultureInfo.InvariantCulture),
            "--tasks", t.ToString(CultureInfo.InvariantCulture))) ?? [];
        GpuCommand.PeerNote(peer);
        Console.WriteLine();
        double copyGbs = 8.0 * t * n / (copyTime.MedianMs * 1e6);
        Console.WriteLine($"Gram and projection, T = {t} tasks × N = {n:N0} parameters; bytes: Gram 4·T·N, projection 8·T·N + 4·N, " +
                          $"copy 8·T·N; ours copy {copyGbs:F1} GB/s; speed = PyTorch time ÷ ours; target ≥ 80 % of the copy:");
        Console.WriteLine();
        Console.WriteLine("| operation | ours ms | ours GB/s | % of copy | PyTorch ms | PyTorch GB/s | speed vs PyTorch |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, timing, bytes) in new[] { ("gram", gramTime, 4.0 * t * n), ("projection", projectionTime, 8.0 * t * n + 4.0 * n) })
        {
            double gbs = bytes / (timing.MedianMs * 1e6);
            var torch = records.FirstOrDefault(r => r.Kind == "gram" && r.Name == name);
            Console.WriteLine($"| {name} | {GpuCommand.Ms(timing.MedianMs)} | {gbs:F1} | {100 * gbs / copyGbs:F0} % | " +
                (torch is null ? "— | — | — |" : $"{GpuCommand.Ms(torch.Ms)} | {bytes / (torch.Ms * 1e6):F1} | {GpuCommand.Ratio(torch.Ms / timing.MedianMs)} |"));
        }
    }
}
