using System.Globalization;
using System.Text;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Training;

namespace Engine.Bench.Methods;

/// <summary>
/// <c>dotnet run -c Release --project Bench -- methods [--seeds 1,2,3] [--datasets energy,wine,mmoe-synthetic] [--p 0.5] [--methods a,b,…]
/// [--archs a,b,…] [--tower W1,W2,…] [--epochs N] [--threads 2] [--out FILE]</c>: the results tables of the method library. Every registered method (loss weightings,
/// gradient methods and presets, read from <see cref="MethodRegistry"/>: a method registered later gets its row without
/// an edit here) is trained by <see cref="Experiment.Run(ExperimentSettings, Kernels.Backend{float}, Func{string, int, IProgress{EpochReport}?}?, CancellationToken)"/>
/// on each bundled dataset with each seed (the seed sets the split, the initial weights and the batch order), with the
/// default settings of <c>mtl train</c> for that dataset and only <c>--method</c> changed. Each row reports, over the
/// seeds, the mean ± sample standard deviation of every task's primary test metric (original units) and of Δm against
/// the single-task models of the same seed (trained once per seed, with the same settings). Each run's training seconds
/// and epochs give the table's time per epoch (training wall time ÷ epochs trained, mean ± sd over the seeds, in ms); the
/// header states the machine's load average when the table started and ended, because on a shared machine wall time
/// follows the load (a method's cost per step, measured apart from the load, is MethodStepBenchmarks').
/// A run that fails (diverged, or the method refuses the data) is reported with its reason, not dropped.
/// <para><c>--archs</c> adds the architecture axis (issue 12): every method is trained with each named shared part of
/// <see cref="Sized"/> (sizes chosen so that every architecture has about the parameters of the default 64-64 shared
/// bottom), the table gets an architecture and a parameter-count column, and Δm is still against the same single-task
/// models (the default 64-64 trunk, one task each). <c>--tower</c> gives every architecture the same towers (default
/// none: the shared-bottom row is then the plain method row). <c>--epochs</c> replaces every dataset's epochs (for a quick
/// check; the tables of docs/results.md use the defaults).</para>
/// <para><c>--datasets mmoe-synthetic</c> (not in the default list) is the MMoE paper's synthetic benchmark at correlation
/// <c>--p</c>, with the rows, split and settings of <see cref="MmoeSyntheticCommand"/> (each seed draws its own tasks and
/// rows; 10,000 training, 2,000 validation and 2,000 test rows; at most 100 epochs with patience 10, Adam lr 0.01) and its
/// MMoE (8 experts of 16, a tower of 8 per task); the single-task models are that MMoE with one task, on the same rows.
/// <c>--archs</c> then replaces the MMoE by the architectures above (their sizes are those of the bundled datasets)
/// and keeps the towers of 8 unless <c>--tower</c> gives others.</para>
/// </summary>
public static class MethodTableCommand
{
    private sealed record MethodRun(string Arch, string Method, ulong Seed, int Parameters, IReadOnlyList<TaskScore>? Test, double DeltaM, double Seconds, int Epochs, string? Failure)
    {
        /// <summary>Training wall time per epoch trained, in milliseconds (early stopping ends some runs sooner).</summary>
        public double MsPerEpoch => Epochs == 0 ? double.NaN : 1000 * Seconds / Epochs;
    }

    /// <summary>The architectures of <c>--archs</c> in the table's order, each sized to about the parameters of the
    /// default shared bottom (a 64-64 trunk: 4,866 parameters on energy, 5,123 on wine, with the output layers) so that
    /// the rows compare the sharing and not the model's size: four experts of 30-30 (mmoe, omoe, dselect-k with k = 2;
    /// cgc with two shared experts and one per task, four at T = 2); ple with the same four experts per level but two
    /// levels of one 30-wide layer each (the same depth, two layers, as every other row); cross-stitch with one 45-45
    /// column per task. No towers unless <c>--tower</c> gives them (then every row gets the same ones).</summary>
    internal static ExperimentSettings Sized(ExperimentSettings settings, string arch) => arch switch
    {
        "shared-bottom" => settings with { Architecture = null, Hidden = [64, 64] },
        "mmoe" => settings with { Architecture = new MmoeArchitecture(Experts: 4), Hidden = [30, 30] },
        "omoe" => settings with { Architecture = new OmoeArchitecture(Experts: 4), Hidden = [30, 30] },
        "cgc" => settings with { Architecture = new CgcArchitecture(Experts: 2, TaskExperts: 1), Hidden = [30, 30] },
        "ple" => settings with { Architecture = new PleArchitecture(Experts: 2, TaskExperts: 1, Levels: 2), Hidden = [30] },
        "cross-stitch" => settings with { Architecture = new CrossStitchArchitecture(), Hidden = [45, 45] },
        "dselect-k" => settings with { Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2), Hidden = [30, 30] },
        _ => throw new ArgumentException($"--archs: unknown architecture '{arch}' ({string.Join(", ", Architecture.Known.Keys.Order(StringComparer.Ordinal))})."),
    };

    public static int Run(string[] args)
    {
        var seeds = CommandArgs.Option(args, "--seeds", "1,2,3").Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var datasets = CommandArgs.Option(args, "--datasets", "energy,wine").Split(',');
        var only = CommandArgs.Option(args, "--methods", "");
        int threads = int.Parse(CommandArgs.Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        var output = CommandArgs.Option(args, "--out", "");
        var archOption = CommandArgs.Option(args, "--archs", "");
        var archs = archOption.Length == 0 ? ["shared-bottom"] : archOption.Split(',');
        var tower = CommandArgs.Option(args, "--tower", "");
        IReadOnlyList<int>? towers = tower.Length == 0 ? null : [.. tower.Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture))];
        var epochs = CommandArgs.Option(args, "--epochs", "");
        double p = double.Parse(CommandArgs.Option(args, "--p", "0.5"), CultureInfo.InvariantCulture);
        var methods = MethodRegistry.All.Select(m => m.Name).Where(n => only.Length == 0 || only.Split(',').Contains(n)).ToArray();
        if (methods.Length == 0) { Console.Error.WriteLine($"--methods: none of '{only}' is registered (mtl methods lists them)."); return 2; }

        var text = new StringBuilder();
        text.AppendLine($"Seeds {string.Join(", ", seeds)}; {threads} CPU threads; {Environment.ProcessorCount} logical CPUs; .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd}; load average at the start {LoadAverage()}.");
        using var backend = new CpuBackend<float>(threads);
        foreach (var name in datasets)
        {
            var settings = epochs.Length == 0 ? Settings(name) : Settings(name) with { Epochs = int.Parse(epochs, CultureInfo.InvariantCulture) };
            var title = name == "mmoe-synthetic" ? FormattableString.Invariant($"{name}, p = {p}, MMoE 8 × 16, towers 8") : name;
            Console.Error.WriteLine($"{title}: single-task baselines and {archs.Length} architectures × {methods.Length} methods × {seeds.Length} seeds");
            var data = seeds.ToDictionary(s => s, s => name == "mmoe-synthetic" ? MmoeSyntheticCommand.Data(p, (int)s) : PreparedData.Load(settings with { Seed = s }));
            var baselines = seeds.ToDictionary(s => s, s => Baselines(settings with { Seed = s }, data[s], backend));
            var runs = new List<MethodRun>();
            foreach (var arch in archs)
                foreach (var method in methods)
                    foreach (var seed in seeds)
                    {
                        var model = archOption.Length == 0 ? settings : Sized(settings, arch) with { Tower = towers ?? settings.Tower };
                        var run = Train(model with { Seed = seed, Step = settings.Step with { Method = method } }, data[seed], arch, method, seed, baselines[seed], backend);
                        Console.Error.WriteLine($"  {(archOption.Length == 0 ? "" : arch + " ")}{method} seed {seed}: {(run.Failure ?? $"Δm {run.DeltaM:+0.00;-0.00;0.00} %, {run.Parameters} parameters, {run.Seconds:0.00} s")}");
                        runs.Add(run);
                    }
            text.AppendLine().Append(Table(title, settings, baselines, runs, archOption.Length > 0));
        }
        text.AppendLine().AppendLine($"Load average at the end {LoadAverage()}.");
        Console.Write(text);
        if (output.Length > 0) File.WriteAllText(output, text.ToString());
        return 0;
    }

    /// <summary>The default <c>mtl train</c> settings of a bundled dataset (docs/results.md): energy with its 300 epochs,
    /// wine with 30 (quality overfits after that); mmoe-synthetic: <see cref="MmoeSyntheticCommand"/>'s settings and MMoE.</summary>
    private static ExperimentSettings Settings(string dataset) => dataset switch
    {
        "energy" => new ExperimentSettings(),
        "wine" => new ExperimentSettings { DataPath = PreparedData.BundledPath(BundledDatasets.WineQualityFile), Epochs = 30 },
        "mmoe-synthetic" => MmoeSyntheticCommand.Settings(seed: 1) with { Architecture = new MmoeArchitecture(Experts: 8), Hidden = [16] },
        _ => throw new ArgumentException($"--datasets: unknown dataset '{dataset}' (energy, wine, mmoe-synthetic)."),
    };

    /// <summary>The single-task models of one seed (Experiment's own baselines, from a run of the plain sum).</summary>
    private static IReadOnlyList<TaskScore> Baselines(ExperimentSettings settings, PreparedData data, CpuBackend<float> backend)
    {
        using var outcome = Experiment.Run(settings with { Baselines = true }, data, backend);
        return [.. outcome.Report.Baselines!.Runs.SelectMany(r => r.Metrics.Test)];
    }

    private static MethodRun Train(ExperimentSettings settings, PreparedData data, string arch, string method, ulong seed, IReadOnlyList<TaskScore> singleTask, CpuBackend<float> backend)
    {
        try
        {
            using var outcome = Experiment.Run(settings, data, backend);
            var test = outcome.Report.Metrics.Test;
            return new MethodRun(arch, method, seed, outcome.Model.Parameters.Count, test, MultiTaskGain.Compute(test, singleTask).DeltaM,
                outcome.Report.Seconds, outcome.Report.Epochs, null);
        }
        catch (Exception e) when (e is TrainingDivergedException or ArgumentException or ExperimentSetupException or NotSupportedException)
        {
            return new MethodRun(arch, method, seed, 0, null, double.NaN, 0, 0, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }

    private static string Table(string dataset, ExperimentSettings settings, Dictionary<ulong, IReadOnlyList<TaskScore>> baselines, List<MethodRun> runs, bool archColumns)
    {
        var tasks = baselines.Values.First();
        var s = new StringBuilder();
        s.AppendLine($"### {dataset} ({(settings.Patience is { } patience ? $"at most {settings.Epochs} epochs, patience {patience}" : $"{settings.Epochs} epochs")}, batch {settings.BatchSize}, test split)").AppendLine();
        s.Append(archColumns ? "| architecture | parameters | method | kind |" : "| method | kind |");
        foreach (var t in tasks) s.Append($" {t.Task} {t.PrimaryName} |");
        s.AppendLine(" Δm % | ms / epoch | failed runs |");
        s.Append(archColumns ? "|---|---|---|---|" : "|---|---|").Append(string.Concat(Enumerable.Repeat("---|", tasks.Count))).AppendLine("---|---|---|");
        string singleTask = settings.Architecture is null ? $"{string.Join('-', settings.Hidden)} trunk" : "the dataset's MMoE";
        s.Append(archColumns ? $"| single-task (each task alone, {singleTask}) | — | — | — |" : "| single-task (each task alone) | — |");
        foreach (var t in tasks) s.Append($" {MeanSd(baselines.Values.Select(b => b.First(x => x.Task == t.Task).Primary))} |");
        s.AppendLine(" 0 | — | |");
        foreach (var group in runs.GroupBy(r => (r.Arch, r.Method)))
        {
            var kind = MethodRegistry.Get(group.Key.Method).Kind switch { MethodKind.LossWeighting => "weighting", MethodKind.Gradient => "gradient", _ => "preset" };
            var ok = group.Where(r => r.Failure is null).ToArray();
            if (archColumns) s.Append($"| {group.Key.Arch} | {(ok.Length == 0 ? "" : ok[0].Parameters.ToString("N0", CultureInfo.InvariantCulture))} ");
            s.Append($"| {group.Key.Method} | {kind} |");
            foreach (var t in tasks) s.Append($" {MeanSd(ok.Select(r => r.Test!.First(x => x.Task == t.Task).Primary))} |");
            s.Append($" {MeanSd(ok.Select(r => r.DeltaM), "0.00", signed: true)} | {MeanSd(ok.Select(r => r.MsPerEpoch), "0.0")} |");
            var failed = group.Where(r => r.Failure is not null).ToArray();
            s.AppendLine(failed.Length == 0 ? " |" : $" {failed.Length} of {group.Count()}: {failed[0].Failure!.Replace("|", "/")} |");
        }
        return s.ToString();
    }

    /// <summary>The 1-, 5- and 15-minute load averages (Linux /proc/loadavg), or "unknown".</summary>
    internal static string LoadAverage()
    {
        try { return string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
        catch (UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>"mean ± sd" (sample standard deviation, n − 1; just the value for one run, empty for none).</summary>
    internal static string MeanSd(IEnumerable<double> values, string format = "0.0000", bool signed = false)
    {
        var v = values.ToArray();
        if (v.Length == 0) return "";
        double mean = v.Average();
        string m = mean.ToString(format, CultureInfo.InvariantCulture);
        if (m.TrimStart('-').Trim('0', '.').Length == 0) m = m.TrimStart('-');   // −0.00 → 0.00
        else if (signed && mean > 0) m = "+" + m;
        if (v.Length == 1) return m;
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return $"{m} ± {sd.ToString(format, CultureInfo.InvariantCulture)}";
    }
}
