using System.Globalization;
using System.Text;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels.Cpu;

namespace Engine.Bench.Methods;

/// <summary>
/// <c>dotnet run -c Release --project Bench -- mmoe-synthetic [--p 0.5,0.9,1.0] [--seeds 1,2,3,4,5] [--rows 10000]
/// [--validation-rows 2000] [--test-rows 2000] [--epochs 100] [--patience 10] [--batch 32] [--lr 0.01] [--sines normal|google] [--threads 2]
/// [--out FILE]</c>: the synthetic benchmark of the MMoE
/// paper (Ma et al., KDD 2018, §4.1 and §5.3). For each correlation p and seed, <see cref="MmoeSynthetic"/> draws the two
/// tasks (u₁, u₂ from the seed; <c>--sines normal</c>: αⱼ, βⱼ ~ N(0, 1) from the seed, <c>google</c>: αⱼ = j,
/// βⱼ = (j − 1)²) and rows + validation-rows + test-rows examples (x and noise from the seed); the three models below are
/// trained by <see cref="Experiment"/> on the same rows with the same settings (Adam, lr 0.01 by default, cosine decay to 0 over
/// the epochs, MSE on the standardized targets, <c>mtl train</c>'s defaults; early stopping after patience epochs
/// without a better validation loss, the best epoch's weights restored; the seed also sets the split, the initial
/// weights and the batch order) and scored on the test rows. Models, all with a ReLU tower of 8 per task and a linear head:
/// <list type="bullet">
/// <item>MMoE: 8 experts of one ReLU layer of 16, one softmax gate per task (the paper's §5.3 sizes);</item>
/// <item>OMoE: 8 experts of 17, one gate for both tasks (one unit more per expert buys back the second gate's
/// parameters);</item>
/// <item>shared bottom: one ReLU layer of 126.</item>
/// </list>
/// The three counts (printed) are within 0.5 % of each other. Prints a Markdown table: per p and model, the mean ±
/// sample standard deviation over the seeds of each task's test MSE (original units, RMSE²) and of their mean; then the
/// MMoE advantage (shared-bottom mean MSE − MMoE mean MSE) per p.
/// </summary>
public static class MmoeSyntheticCommand
{
    private sealed record Model(string Name, Architecture? Architecture, int Hidden);

    private static readonly Model[] Models =
    [
        new("shared-bottom", null, 126),
        new("OMoE", new OmoeArchitecture(8), 17),
        new("MMoE", new MmoeArchitecture(8), 16),
    ];

    public static int Run(string[] args)
    {
        var ps = CommandArgs.Option(args, "--p", "0.5,0.9,1.0").Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var seeds = CommandArgs.Option(args, "--seeds", "1,2,3,4,5").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int rows = int.Parse(CommandArgs.Option(args, "--rows", "10000"), CultureInfo.InvariantCulture);
        int validationRows = int.Parse(CommandArgs.Option(args, "--validation-rows", "2000"), CultureInfo.InvariantCulture);
        int testRows = int.Parse(CommandArgs.Option(args, "--test-rows", "2000"), CultureInfo.InvariantCulture);
        int epochs = int.Parse(CommandArgs.Option(args, "--epochs", "100"), CultureInfo.InvariantCulture);
        int patience = int.Parse(CommandArgs.Option(args, "--patience", "10"), CultureInfo.InvariantCulture);
        int batch = int.Parse(CommandArgs.Option(args, "--batch", "32"), CultureInfo.InvariantCulture);
        double lr = double.Parse(CommandArgs.Option(args, "--lr", "0.01"), CultureInfo.InvariantCulture);
        int threads = int.Parse(CommandArgs.Option(args, "--threads", "2"), CultureInfo.InvariantCulture);
        var output = CommandArgs.Option(args, "--out", "");
        var sines = CommandArgs.Option(args, "--sines", "normal");
        if (sines is not ("normal" or "google")) { Console.Error.WriteLine($"--sines: 'normal' or 'google', not '{sines}'."); return 2; }

        using var backend = new CpuBackend<float>(threads);
        var counts = new Dictionary<string, int>();
        var epochsRun = new List<int>();
        // mse[(p, model)] = one (task 1, task 2) pair per seed.
        var mse = new Dictionary<(double, string), List<(double, double)>>();
        foreach (double p in ps)
            foreach (int seed in seeds)
            {
                var prepared = Data(p, seed, rows, validationRows, testRows, sines);
                foreach (var model in Models)
                {
                    var settings = Settings(seed, rows, validationRows, testRows, epochs, patience, batch, lr) with { Architecture = model.Architecture, Hidden = [model.Hidden] };
                    using var outcome = Experiment.Run(settings, prepared, backend);
                    counts[model.Name] = outcome.Model.Parameters.Count;
                    var scores = outcome.Report.Metrics.Test;
                    double m1 = Square(scores[0].Rmse!.Value), m2 = Square(scores[1].Rmse!.Value);
                    Console.Error.WriteLine(FormattableString.Invariant($"p {p} seed {seed} {model.Name}: test MSE {m1:0.0000}, {m2:0.0000}, best epoch {outcome.Report.BestEpoch} ({outcome.Report.Seconds:0.0} s)"));
                    epochsRun.Add(outcome.Report.BestEpoch);
                    if (!mse.TryGetValue((p, model.Name), out var list)) mse[(p, model.Name)] = list = [];
                    list.Add((m1, m2));
                }
            }

        var text = new StringBuilder();
        text.AppendLine(FormattableString.Invariant($"MMoE synthetic data (Ma et al. 2018, §4.1): d = 100, m = 10, c = 1, {(sines == "normal" ? "αⱼ, βⱼ ~ N(0, 1) drawn per seed" : "αⱼ = j, βⱼ = (j−1)²")}, σ = 0.1; {rows} training, {validationRows} validation and {testRows} test rows per seed; seeds {string.Join(", ", seeds)}; at most {epochs} epochs (patience {patience}; best epochs {epochsRun.Min()}–{epochsRun.Max()}, median {epochsRun.Order().ElementAt(epochsRun.Count / 2)}), batch {batch}, Adam lr {lr} (cosine to 0 over {epochs} epochs); {threads} CPU threads; .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd}."));
        text.AppendLine().Append("Parameters: ").AppendLine(string.Join(", ", Models.Select(m => $"{m.Name} {counts[m.Name]}")) + ".").AppendLine();
        text.AppendLine("| p | model | test MSE y1 | test MSE y2 | mean test MSE |");
        text.AppendLine("|---|---|---|---|---|");
        foreach (double p in ps)
            foreach (var model in Models)
            {
                var v = mse[(p, model.Name)];
                text.AppendLine(FormattableString.Invariant($"| {p} | {model.Name} | {MethodTableCommand.MeanSd(v.Select(x => x.Item1))} | {MethodTableCommand.MeanSd(v.Select(x => x.Item2))} | {MethodTableCommand.MeanSd(v.Select(x => (x.Item1 + x.Item2) / 2))} |"));
            }
        text.AppendLine().AppendLine("| p | shared-bottom − MMoE, mean test MSE (per seed, mean ± sd) | MMoE better in |");
        text.AppendLine("|---|---|---|");
        foreach (double p in ps)
        {
            var gap = mse[(p, "shared-bottom")].Zip(mse[(p, "MMoE")], (s, m) => (s.Item1 + s.Item2) / 2 - (m.Item1 + m.Item2) / 2).ToArray();
            text.AppendLine(FormattableString.Invariant($"| {p} | {MethodTableCommand.MeanSd(gap)} | {gap.Count(g => g > 0)} of {gap.Length} seeds |"));
        }
        Console.Write(text);
        if (output.Length > 0) File.WriteAllText(output, text.ToString());
        return 0;
    }

    /// <summary>The rows of one correlation and seed, split into rows, validation-rows and test-rows (the split and the
    /// draws from the seed, as described above).</summary>
    internal static PreparedData Data(double p, int seed, int rows = 10000, int validationRows = 2000, int testRows = 2000, string sines = "normal")
    {
        var (alphas, betas) = sines == "normal" ? MmoeSynthetic.NormalSines(MmoeSynthetic.PaperSines, seed) : (null, null);
        int all = rows + validationRows + testRows;
        var data = MmoeSynthetic.Create(p, seed, alphas: alphas, betas: betas).Generate(all, seed);
        return PreparedData.From(data, (double)validationRows / all, (double)testRows / all, (ulong)seed);
    }

    /// <summary>The training settings every model of the benchmark shares (towers of 8, early stopping, Adam with the
    /// given lr); the caller sets the architecture and the expert or trunk width (MMoE: 8 experts of 16).</summary>
    internal static ExperimentSettings Settings(int seed, int rows = 10000, int validationRows = 2000, int testRows = 2000,
        int epochs = 100, int patience = 10, int batch = 32, double lr = 0.01)
    {
        int all = rows + validationRows + testRows;
        return new ExperimentSettings
        {
            Seed = (ulong)seed, Tower = [8],
            Epochs = epochs, BatchSize = batch, ValidationFraction = (double)validationRows / all, TestFraction = (double)testRows / all,
            Patience = validationRows > 0 ? patience : null,
            Step = ExperimentSettings.DefaultStep with { LearningRate = lr },
        };
    }

    private static double Square(double x) => x * x;
}
