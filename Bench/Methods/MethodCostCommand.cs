using System.Diagnostics;
using System.Globalization;
using Engine.Bench.Workloads;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Methods;

/// <summary>
/// <c>method-cost [--workload medium] [--methods a,b,…] [--rounds 15] [--block-ms 60] [--threads 2]</c>: each method's
/// step time over the time of the passes it needs, measured <b>interleaved</b> so that a noisy, shared machine cancels
/// out of the ratio. Every method's step (<see cref="EngineStep"/>, as <see cref="MethodStepBenchmarks"/>) is built and
/// warmed once; then each round times one block of back-to-back steps of <c>sum</c>, of
/// <see cref="MethodStepBenchmarks.PerTaskPasses"/> and of every method, in an order rotated each round; a method's
/// ratio in a round is its per-step time over that round's baseline — <c>sum</c> for a method that needs one shared
/// backward, <c>per-task-passes</c> for one that needs the per-task gradients — and the command prints the median over
/// the rounds with the lowest and highest round. Load changes between rounds no longer enter a ratio; only a change
/// within one round (a block is 60 ms) does, and the median discards those rounds.
/// </summary>
public static class MethodCostCommand
{
    public static int Run(string[] args)
    {
        string workloadName = CommandArgs.Option(args, "--workload", "medium");
        int rounds = int.Parse(CommandArgs.Option(args, "--rounds", "15"), CultureInfo.InvariantCulture);
        double blockMs = double.Parse(CommandArgs.Option(args, "--block-ms", "60"), CultureInfo.InvariantCulture);
        int threads = int.Parse(CommandArgs.Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        if (rounds < 1) throw new ArgumentException("--rounds must be at least 1.");
        if (!MethodRegistry.Contains(MethodStepBenchmarks.PerTaskPasses.Name)) MethodRegistry.Register(MethodStepBenchmarks.PerTaskPasses);
        string[] named = CommandArgs.Option(args, "--methods", "") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : [.. MethodRegistry.All.Select(m => m.Name)];
        foreach (var n in named)
            if (!MethodRegistry.Contains(n)) throw new ArgumentException($"--methods: '{n}' is not a registered method.");
        string[] methods = [.. new[] { "sum", MethodStepBenchmarks.PerTaskPasses.Name }.Concat(named).Distinct()];

        var workload = Workload.Named(workloadName);
        using var backend = new CpuBackend<float>(threads);
        var steps = new Dictionary<string, IStepRunner>();
        var refused = new List<string>();
        try
        {
            foreach (var m in methods)
            {
                try { steps[m] = EngineStep.Create(workload, StepVariant.Sum, backend, method: m); }
                catch (Exception e) when (e is ArgumentException or NotSupportedException) { refused.Add($"{m}: {e.Message.Split('\n')[0]}"); }
            }
            var names = steps.Keys.ToArray();
            var calls = new Dictionary<string, int>();
            foreach (var (m, step) in steps)
            {
                var warm = Stopwatch.StartNew();
                int n = 0;
                while (n < 5 || warm.Elapsed.TotalSeconds < 0.4) { step.Run(); n++; }
                calls[m] = Math.Max(1, (int)Math.Ceiling(blockMs / (warm.Elapsed.TotalMilliseconds / n)));
            }
            var times = names.ToDictionary(m => m, _ => new double[rounds]);
            for (int r = 0; r < rounds; r++)
            {
                for (int k = 0; k < names.Length; k++)
                {
                    string m = names[(k + r) % names.Length];
                    var step = steps[m];
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < calls[m]; i++) step.Run();
                    times[m][r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls[m];
                }
            }

            Console.WriteLine($"method-cost: workload {workload.Name}, {threads} threads, {rounds} interleaved rounds, blocks of ~{blockMs} ms, " +
                              $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
            Console.WriteLine("ratio = the method's step over its baseline's step in the same round; median [min, max] over the rounds.");
            Console.WriteLine($"{"method",-16} {"baseline",-16} {"step ms (median)",16} {"vs. baseline",14} {"range",22}");
            foreach (var m in names)
            {
                var plan = MethodRegistry.Resolve(m, null, [.. workload.Heads.Select((_, i) => $"t{i}")]);
                bool perTask = plan.Needs.HasFlag(MethodNeeds.SharedGradients);
                string baseline = m == "sum" ? "—" : perTask ? MethodStepBenchmarks.PerTaskPasses.Name : "sum";
                double median = Median(times[m]);
                if (baseline == "—" || !times.ContainsKey(baseline))
                {
                    Console.WriteLine($"{m,-16} {baseline,-16} {median,16:F3} {"",14} {"",22}");
                    continue;
                }
                var ratios = times[m].Zip(times[baseline], (a, b) => a / b - 1).ToArray();
                Console.WriteLine($"{m,-16} {baseline,-16} {median,16:F3} {Percent(Median(ratios)),13} " +
                                  $"{$"[{Percent(ratios.Min())}, {Percent(ratios.Max())}]",22}");
            }
            foreach (var line in refused) Console.WriteLine($"refused  {line}");
            return 0;
        }
        finally
        {
            foreach (var s in steps.Values) s.Dispose();
        }
    }

    /// <summary>A ratio − 1 as a signed percentage with one decimal ("+2.5%", "-0.4%"; a value that rounds to zero as "+0.0%").</summary>
    private static string Percent(double value)
    {
        double rounded = Math.Round(value * 1000) / 1000;
        return (rounded == 0 ? 0 : rounded).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
