using System.Globalization;
using System.Text;
using Engine.Bench.Kernels;
using Engine.Bench.Workloads;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Compare;

/// <summary>
/// <c>compare</c>: our training steps and PyTorch's, side by side, on the CPU with the same thread count.
/// <code>dotnet run -c Release --project Bench -- compare [--threads 2] [--repeats 7] [--only small,medium,large]
///     [--variants sum,pcgrad] [--kernels] [--no-peer] [--python /usr/bin/python3] [--impl engine|direct|separate] [--out FILE]</code>
/// For each workload, ours runs first (in this process, <see cref="StepTimer"/>), then the peer script for the same
/// workload (a subprocess, so the two never share the cores). Prints a Markdown table and writes it to a file
/// (default Bench/results/compare.md).
/// </summary>
public static class CompareCommand
{
    private const string Usage = "compare [--threads N] [--repeats N] [--only small,medium,large] [--variants sum,pcgrad] [--kernels] " +
                                 "[--no-peer] [--python PATH] [--impl engine|direct|separate] [--out FILE]";

    public static int Run(string[] args)
    {
        int threads = 2, repeats = 7;
        string only = "small,medium,large", variants = "sum,pcgrad", python = "/usr/bin/python3", impl = "engine";
        string? output = null;
        bool peerWanted = true, kernels = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value. Usage: {Usage}");
            switch (args[i])
            {
                case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--repeats": repeats = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--only": only = Next(); break;
                case "--variants": variants = Next(); break;
                case "--python": python = Next(); break;
                case "--impl": impl = Next(); break;
                case "--out": output = Next(); break;
                case "--no-peer": peerWanted = false; break;
                case "--kernels": kernels = true; break;
                default: Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: {Usage}"); return 2;
            }
        }
        var workloads = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Workload.Named).ToList();
        var stepVariants = variants.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => Enum.Parse<StepVariant>(v, ignoreCase: true)).ToList();

        using var backend = new CpuBackend<float>(threads);
        var peer = new TorchPeer(python, threads);
        if (!peerWanted) peer = null;
        var report = new StringBuilder();
        void Line(string text = "")
        {
            Console.WriteLine(text);
            report.AppendLine(text);
        }

        Line($"# Engine vs PyTorch on the CPU — training steps, {threads} threads each");
        Line();
        foreach (var line in MachineInfo.Describe(backend)) Line(line);
        Line($"- load average before: {MachineInfo.LoadAverage()}");
        Line();

        var rows = new List<(Workload W, StepVariant V, Timing Ours, string Impl, double? TorchMs)>();
        foreach (var workload in workloads)
        {
            foreach (var variant in stepVariants)
            {
                using var step = StepFactory.Create(impl, workload, variant, backend);
                var timing = StepTimer.Measure(step.Run, repeats);
                Console.Error.WriteLine($"  ours  {workload.Name,-6} {variant,-6} {timing.MedianMs,10:F3} ms (min {timing.MinMs:F3}, {timing.Blocks}×{timing.CallsPerBlock} calls, {timing.AllocatedBytesPerCall:F0} B/step)");
                rows.Add((workload, variant, timing, step.Implementation, null));
            }
            if (peer is not null)
            {
                var records = peer.Run("--only", workload.Name, "--repeats", repeats.ToString(CultureInfo.InvariantCulture));
                for (int r = 0; r < rows.Count; r++)
                {
                    if (rows[r].W != workload) continue;
                    var match = records.FirstOrDefault(p => p.Kind == "step" && p.Name == workload.Name && p.Variant == rows[r].V.ToString().ToLowerInvariant());
                    if (match is not null)
                    {
                        rows[r] = rows[r] with { TorchMs = match.Ms };
                        Console.Error.WriteLine($"  torch {workload.Name,-6} {rows[r].V,-6} {match.Ms,10:F3} ms");
                    }
                }
            }
        }

        Line($"Ours: {rows.FirstOrDefault().Impl ?? impl}. PyTorch: {(peer is null ? "not run (--no-peer)" : peer.Available ? peer.Note : "not available — " + peer.Note)}.");
        Line($"Median of {repeats} timed blocks after warm-up (blocks of back-to-back steps lasting ≥ {StepTimer.MinBlockSeconds * 1e3:F0} ms; full GC between blocks). " +
             "GFLOP/step counts the GEMMs only (forward once, backward twice except the first layer's input gradient; the trunk's backward once per task for pcgrad).");
        Line();
        Line("| workload | variant | GFLOP/step | ours (ms) | PyTorch (ms) | PyTorch ÷ ours | ours GFLOP/s | ours alloc (B/step) |");
        Line("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (w, v, ours, _, torch) in rows)
        {
            double gflop = w.Flops(v) / 1e9;
            Line($"| {w.Name} | {v.ToString().ToLowerInvariant()} | {gflop:G4} | {Ms(ours.MedianMs)} | {(torch is double t ? Ms(t) : "—")} | " +
                 $"{(torch is double t2 ? $"{t2 / ours.MedianMs:F2}×" : "—")} | {gflop / (ours.MedianMs / 1e3):F1} | {ours.AllocatedBytesPerCall:F0} |");
        }
        Line();
        var overheads = new List<string>();
        foreach (var workload in workloads)
        {
            var sum = rows.FirstOrDefault(r => r.W == workload && r.V == StepVariant.Sum);
            var pc = rows.FirstOrDefault(r => r.W == workload && r.V == StepVariant.PcGrad);
            if (sum.Ours is null || pc.Ours is null) continue;
            double scale = workload.Flops(StepVariant.PcGrad) / workload.Flops(StepVariant.Sum);
            double expected = sum.Ours.MedianMs * scale;
            overheads.Add($"| {workload.Name} | {Ms(sum.Ours.MedianMs)} | {scale:F2} | {Ms(expected)} | {Ms(pc.Ours.MedianMs)} | {100 * (pc.Ours.MedianMs / expected - 1):+0.0;-0.0}% |");
        }
        if (overheads.Count > 0)
        {
            Line("PCGrad's overhead over our own sum step, beyond the extra trunk backward passes it needs by definition " +
                 "(expected = sum time × GFLOP(pcgrad)/GFLOP(sum)):");
            Line();
            Line("| workload | ours sum (ms) | GFLOP ratio | expected pcgrad (ms) | ours pcgrad (ms) | overhead |");
            Line("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var o in overheads) Line(o);
            Line();
        }

        if (kernels) KernelComparison.Run(backend, peer, repeats, Line);
        Line($"- load average after: {MachineInfo.LoadAverage()}");

        output ??= Directory.Exists("Bench") ? Path.Combine("Bench", "results", "compare.md") : "compare.md";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        File.WriteAllText(output, report.ToString());
        Console.WriteLine($"(written to {output})");
        return 0;
    }

    internal static string Ms(double ms) => ms >= 100 ? ms.ToString("F0", CultureInfo.InvariantCulture)
        : ms >= 10 ? ms.ToString("F1", CultureInfo.InvariantCulture)
        : ms >= 1 ? ms.ToString("F2", CultureInfo.InvariantCulture)
        : ms.ToString("F3", CultureInfo.InvariantCulture);
}
