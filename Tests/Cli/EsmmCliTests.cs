using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Cli;
using Engine.Data;
using Engine.Experiments;
using Engine.Training;

namespace Engine.Tests.Cli;

/// <summary>
/// ESMM from the command line (docs/cli.md, <c>--task-product</c>, <c>--no-loss</c>, <c>--task-input</c>; docs/maths.md §17.6, §17.7) on a synthetic
/// click/conversion table written here, ESMM's setting: every row is an impression with a click label; the conversion
/// label exists only where there was a click (empty elsewhere); the CTCVR label is click AND conversion. Checked: the
/// training run's per-epoch losses equal, bit for bit, those of the same model built and trained through the library API
/// (<see cref="Trainer"/> on a hand-built <see cref="ModelSpec"/> with <c>TaskGraph.Esmm</c>), also with the conversion tower
/// reading pCTR (<c>--task-input conversion=click</c>, end to end and detached); <c>predict</c> writes every task
/// and P(ctcvr=1) = P(click=1)·P(conversion=1) row by row (rtol 1e-6, float32 on the device against the product of the two
/// printed float32 probabilities); <c>evaluate</c> reports every task, the conversion task on the clicked rows only, and its
/// CTCVR loss and accuracy equal those computed in float64 from the predicted probabilities; bad flags exit 2 naming the flag,
/// inconsistent labels exit 1 naming file, row and column.
/// </summary>
public sealed class EsmmCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mtl-esmm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int Rows = 240, Epochs = 6, Seed = 5;

    /// <summary>x1, x2, x3 uniform in [−2, 2]; click ~ Bernoulli(σ(1.5·x1 − 0.5)); conversion ~ Bernoulli(σ(2·x2 + x3)), written
    /// only where click = 1; ctcvr = click·conversion. Deterministic (System.Random with a seed).</summary>
    internal static string ClickCsv(int rows = Rows, int seed = 3, Func<int, string>? ctcvrOverride = null)
    {
        var random = new Random(seed);
        var text = new StringBuilder("x1,x2,x3,click,conversion,ctcvr\n");
        for (int i = 0; i < rows; i++)
        {
            double x1 = Math.Round(random.NextDouble() * 4 - 2, 3), x2 = Math.Round(random.NextDouble() * 4 - 2, 3), x3 = Math.Round(random.NextDouble() * 4 - 2, 3);
            int click = random.NextDouble() < 1 / (1 + Math.Exp(-(1.5 * x1 - 0.5))) ? 1 : 0;
            int conversion = random.NextDouble() < 1 / (1 + Math.Exp(-(2 * x2 + x3))) ? 1 : 0;
            string ctcvr = ctcvrOverride?.Invoke(i) ?? (click * conversion).ToString(CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture, $"{x1},{x2},{x3},{click},{(click == 1 ? conversion.ToString(CultureInfo.InvariantCulture) : "")},{ctcvr}\n");
        }
        return text.ToString();
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string[] TrainFlags(string csv, params string[] more) =>
        ["train", "--data", csv, "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion", "--no-loss", "conversion",
         more.Contains("mmoe") ? "--expert-hidden" : "--hidden", "8", "--tower", "6", "--epochs", Epochs.ToString(CultureInfo.InvariantCulture), "--batch-size", "16",
         "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--test", "0.25", .. more];

    /// <summary>ESMM; ESMM with the conversion tower also reading pCTR (§17.7), end to end and detached; ESMM and the tower
    /// input on an MMoE and on cross-stitch (the shared part serves click and conversion, not the product).</summary>
    public static TheoryData<string[], bool, bool> Graphs => new()
    {
        { [], false, false },
        { ["--task-input", "conversion=click"], true, false },
        { ["--task-input", "conversion=click", "--detach-task-inputs"], true, true },
        { ["--arch", "mmoe", "--experts", "3"], false, false },
        { ["--arch", "cross-stitch", "--task-input", "conversion=click"], true, false },
    };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void Training_follows_the_library_api_run_of_the_same_spec_bit_for_bit(string[] flags, bool inputs, bool detach)
    {
        var csv = Write("clicks.csv", ClickCsv());
        var run = Mtl.Run(TrainFlags(csv, [.. flags, "--json"]));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("conversion no loss", run.Error);                     // the progress lines: no training loss of its own
        Assert.DoesNotContain("conversion 0  ", run.Error);
        Assert.Contains($"conversion (binary, positive class '1'; no loss{(inputs ? $"; tower reads click{(detach ? " (detached)" : "")}" : "")})", run.Error);
        using var report = JsonDocument.Parse(run.Output);
        var history = report.RootElement.GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal(Epochs, history.Length);
        var graph = report.RootElement.GetProperty("settings").GetProperty("graph");
        Assert.Equal("click,conversion", string.Join(",", graph.GetProperty("products").GetProperty("ctcvr").EnumerateArray().Select(e => e.GetString())));

        // The same model through the library: read, split, standardize, spec with ESMM's graph, Trainer.
        var schema = new TableSchema(["x1", "x2", "x3"], [], [TaskSpec.Binary("click"), TaskSpec.Binary("conversion"), TaskSpec.Binary("ctcvr")]);
        var data = CsvTable.Load(csv, schema);
        var split = DataSplit.Shuffled(data.RowCount, 0.75, 0, Seed);
        var scale = Standardization.Fit(data, split.Train);
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        int arch = Array.IndexOf(flags, "--arch");
        var spec = new ModelSpec(3, [8], [TaskHead.Binary("click"), TaskHead.Binary("conversion"), TaskHead.Binary("ctcvr")])
        {
            Tower = [6], Graph = TaskGraph.Esmm("ctcvr", "click", "conversion"), Seed = Seed,
            Architecture = arch < 0 ? null : flags[arch + 1] == "mmoe" ? new MmoeArchitecture(Experts: 3) : new CrossStitchArchitecture(),
        };
        if (inputs) spec = spec with { Graph = spec.Graph! with { Inputs = new Dictionary<string, string[]> { ["conversion"] = ["click"] }, DetachInputs = detach } };
        Assert.Equal(inputs ? "click" : null, graph.GetProperty("inputs").TryGetProperty("conversion", out var read) ? read[0].GetString() : null);
        using var backend = Engine.Kernels.Device.Create("auto");
        using var model = MultiTaskModel.Create(spec, backend);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = Epochs, BatchSize = 16, Seed = Seed, MaxLoss = Experiment.MaxStandardizedLoss,
            Step = ExperimentSettings.DefaultStep with { CombinationSeed = Seed },
        }).Fit(model, train, null, null, TestContext.Current.CancellationToken);

        Assert.Equal(inputs ? 6 * 9 : 6 * 8, model.Parameters.Slots.Single(q => q.Name == "towers.conversion.0.weight").Length);
        Assert.Equal(Epochs, result.History.Count);
        for (int e = 0; e < Epochs; e++)
        {
            Assert.Equal(result.History[e].TrainLoss, history[e].GetProperty("trainLoss").GetDouble());
            var tasks = history[e].GetProperty("train").EnumerateArray().ToArray();
            for (int t = 0; t < 3; t++)
                Assert.Equal(result.History[e].Train[t].Loss, tasks[t].GetProperty("loss").GetDouble());
            Assert.Equal(0, tasks[1].GetProperty("loss").GetDouble()); // conversion: no loss of its own
        }
        Assert.True(history[^1].GetProperty("train")[2].GetProperty("loss").GetDouble() < history[0].GetProperty("train")[2].GetProperty("loss").GetDouble(), "the CTCVR loss fell");
    }

    /// <summary>Per-task gradient methods on ESMM when the conversion task has a loss of its own (its labels on the clicked
    /// rows, ESMM's CVR on the click space): `--method pcgrad --diagnostics` trains (the click and conversion blocks in the
    /// shared block, docs/maths.md §17.6) bit for bit as the library's Trainer with the same step options, and reports the
    /// epoch's mean task-gradient cosines (3 × 3, symmetric).</summary>
    [Theory]
    [InlineData("pcgrad", null)]
    [InlineData("mgda", "mmoe")]
    public void A_per_task_method_trains_esmm_with_a_supervised_conversion_task_as_the_library_does(string method, string? arch)
    {
        var csv = Write("clicks.csv", ClickCsv());
        string[] archFlags = arch is null ? ["--hidden", "8"] : ["--arch", arch, "--experts", "3", "--expert-hidden", "8"];
        var run = Mtl.Run(["train", "--data", csv, "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion", .. archFlags, "--tower", "6",
            "--epochs", Epochs.ToString(CultureInfo.InvariantCulture), "--batch-size", "16", "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--test", "0.25",
            "--method", method, "--diagnostics", "--json"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var report = JsonDocument.Parse(run.Output);
        var history = report.RootElement.GetProperty("history").EnumerateArray().ToArray();

        var schema = new TableSchema(["x1", "x2", "x3"], [], [TaskSpec.Binary("click"), TaskSpec.Binary("conversion"), TaskSpec.Binary("ctcvr")]);
        var data = CsvTable.Load(csv, schema);
        var split = DataSplit.Shuffled(data.RowCount, 0.75, 0, Seed);
        var scale = Standardization.Fit(data, split.Train);
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        var spec = new ModelSpec(3, [8], [TaskHead.Binary("click"), TaskHead.Binary("conversion"), TaskHead.Binary("ctcvr")])
        {
            Tower = [6], Seed = Seed, Architecture = arch is null ? null : new MmoeArchitecture(Experts: 3),
            Graph = new TaskGraph { Products = new Dictionary<string, string[]> { ["ctcvr"] = ["click", "conversion"] } },
        };
        using var backend = Engine.Kernels.Device.Create("auto");
        using var model = MultiTaskModel.Create(spec, backend);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = Epochs, BatchSize = 16, Seed = Seed, MaxLoss = Experiment.MaxStandardizedLoss,
            Step = ExperimentSettings.DefaultStep with
            {
                CombinationSeed = Seed, TaskGradientDiagnostics = true,
                Combination = method == "pcgrad" ? Engine.Kernels.CombinationMethod.PcGrad : Engine.Kernels.CombinationMethod.Mgda,
            },
        }).Fit(model, train, null, null, TestContext.Current.CancellationToken);
        Assert.Equal(Epochs, history.Length);
        for (int e = 0; e < Epochs; e++)
        {
            Assert.Equal(result.History[e].TrainLoss, history[e].GetProperty("trainLoss").GetDouble());
            var tasks = history[e].GetProperty("train").EnumerateArray().ToArray();
            for (int t = 0; t < 3; t++) Assert.Equal(result.History[e].Train[t].Loss, tasks[t].GetProperty("loss").GetDouble());
        }
        var cosines = history[^1].GetProperty("taskGradientCosines").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        Assert.Equal(3, cosines.Length);
        for (int i = 0; i < 3; i++)
        {
            // the epoch's mean: a step where a task has no labelled row (conversion, on few clicked rows) counts 0 for it
            Assert.InRange(cosines[i][i], 0.5, 1 + 1e-6);
            for (int j = 0; j < 3; j++) Assert.Equal(cosines[i][j], cosines[j][i], 1e-6);
        }
        Assert.Contains(cosines.SelectMany(r => r), c => Math.Abs(c) is > 1e-3 and < 0.999);
    }

    /// <summary>Per-task gradient methods on ESMM as the paper has it, the conversion task with no loss (docs/maths.md §17.6):
    /// `--method pcgrad --no-loss conversion --diagnostics` (and MGDA on an MMoE) exits 0 and trains bit for bit as the library's
    /// Trainer with the same step options; the combiner runs over click and ctcvr, and the epoch's cosine matrix is 3 × 3 in
    /// head order with conversion's row and column NaN (no gradient of its own).</summary>
    [Theory]
    [InlineData("pcgrad", null)]
    [InlineData("mgda", "mmoe")]
    public void A_per_task_method_trains_esmm_beside_the_loss_free_conversion_task_as_the_library_does(string method, string? arch)
    {
        var csv = Write("clicks.csv", ClickCsv());
        string[] archFlags = arch is null ? [] : ["--arch", arch, "--experts", "3"];
        var run = Mtl.Run(TrainFlags(csv, [.. archFlags, "--method", method, "--diagnostics", "--json"]));
        Assert.True(run.ExitCode == 0, run.ToString());
        using var report = JsonDocument.Parse(run.Output);
        var history = report.RootElement.GetProperty("history").EnumerateArray().ToArray();

        var schema = new TableSchema(["x1", "x2", "x3"], [], [TaskSpec.Binary("click"), TaskSpec.Binary("conversion"), TaskSpec.Binary("ctcvr")]);
        var data = CsvTable.Load(csv, schema);
        var split = DataSplit.Shuffled(data.RowCount, 0.75, 0, Seed);
        var scale = Standardization.Fit(data, split.Train);
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        var spec = new ModelSpec(3, [8], [TaskHead.Binary("click"), TaskHead.Binary("conversion"), TaskHead.Binary("ctcvr")])
        {
            Tower = [6], Graph = TaskGraph.Esmm("ctcvr", "click", "conversion"), Seed = Seed,
            Architecture = arch is null ? null : new MmoeArchitecture(Experts: 3),
        };
        using var backend = Engine.Kernels.Device.Create("auto");
        using var model = MultiTaskModel.Create(spec, backend);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = Epochs, BatchSize = 16, Seed = Seed, MaxLoss = Experiment.MaxStandardizedLoss,
            Step = ExperimentSettings.DefaultStep with
            {
                CombinationSeed = Seed, TaskGradientDiagnostics = true,
                Combination = method == "pcgrad" ? Engine.Kernels.CombinationMethod.PcGrad : Engine.Kernels.CombinationMethod.Mgda,
            },
        }).Fit(model, train, null, null, TestContext.Current.CancellationToken);
        Assert.Equal(Epochs, history.Length);
        for (int e = 0; e < Epochs; e++)
        {
            Assert.Equal(result.History[e].TrainLoss, history[e].GetProperty("trainLoss").GetDouble());
            var tasks = history[e].GetProperty("train").EnumerateArray().ToArray();
            for (int t = 0; t < 3; t++) Assert.Equal(result.History[e].Train[t].Loss, tasks[t].GetProperty("loss").GetDouble());
            Assert.Equal(0, tasks[1].GetProperty("loss").GetDouble());            // conversion: no loss of its own
        }
        Assert.True(history[^1].GetProperty("train")[2].GetProperty("loss").GetDouble() < history[0].GetProperty("train")[2].GetProperty("loss").GetDouble(), "the CTCVR loss fell");
        // NaN is written as the string "NaN" (ExperimentReport.Json allows named floating-point literals).
        static double Read(JsonElement v) => v.ValueKind == JsonValueKind.String ? double.Parse(v.GetString()!, CultureInfo.InvariantCulture) : v.GetDouble();
        var cosines = history[^1].GetProperty("taskGradientCosines").EnumerateArray().Select(r => r.EnumerateArray().Select(Read).ToArray()).ToArray();
        Assert.Equal(3, cosines.Length);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(double.IsNaN(cosines[1][i]) && double.IsNaN(cosines[i][1]), $"cos(conversion, {i}) = {cosines[1][i]}");
            if (i != 1) Assert.InRange(cosines[i][i], 0.5, 1 + 1e-6);
        }
        Assert.Equal(cosines[0][2], cosines[2][0], 1e-6);
        Assert.InRange(Math.Abs(cosines[0][2]), 1e-3, 0.999);
        var expected = result.History[^1].TaskGradientCosines!;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) Assert.Equal(expected[i, j], cosines[i][j]);
    }

    /// <summary>ESMM (conversion without a loss) and a graph where conversion has its loss and its tower reads pCTR.</summary>
    public static TheoryData<string[], string[]> BaselineGraphs => new()
    {
        { ["--no-loss", "conversion"], ["click", "ctcvr"] },
        { ["--task-input", "conversion=click"], ["click", "conversion", "ctcvr"] },
    };

    /// <summary>
    /// <c>--baselines</c> with ordered tasks (maths §17.6): each task with a loss gets a single-task model trained on its own
    /// label as a plain task of its kind (the product ctcvr a plain binary task, conversion without the pCTR input), a
    /// <c>--no-loss</c> task none; each baseline's metrics equal, bit for bit, those of a separate <c>mtl train</c> of that task
    /// alone with the same seed and settings, and Δm = (1/T)·Σ (acc_mtl − acc_stl)/acc_stl·100 over the tasks with a loss.
    /// </summary>
    [Theory]
    [MemberData(nameof(BaselineGraphs))]
    public void Baselines_train_each_task_with_a_loss_on_its_own_label_and_dm_is_over_those(string[] graph, string[] expected)
    {
        var csv = Write("clicks.csv", ClickCsv());
        string[] common = ["--data", csv, "--inputs", "x1,x2,x3", "--hidden", "8", "--tower", "6", "--epochs", "4", "--batch-size", "16",
            "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--test", "0.25", "--json"];
        var run = Mtl.Run(["train", .. common, "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion", .. graph, "--baselines"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var report = JsonDocument.Parse(run.Output);
        var baselines = report.RootElement.GetProperty("baselines");
        var runs = baselines.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(expected, runs.Select(r => r.GetProperty("task").GetString()));
        var multi = report.RootElement.GetProperty("metrics").GetProperty("test").EnumerateArray().ToArray();
        double sum = 0;
        foreach (var baseline in runs)
        {
            string task = baseline.GetProperty("task").GetString()!;
            var alone = Mtl.Run(["train", .. common, "--binary", task]);
            Assert.True(alone.ExitCode == 0, alone.ToString());
            using var single = JsonDocument.Parse(alone.Output);
            foreach (var split in new[] { "train", "validation", "test" })
                Assert.Equal(JsonSerializer.Serialize(single.RootElement.GetProperty("metrics").GetProperty(split)),   // every number as written, compact
                    JsonSerializer.Serialize(baseline.GetProperty("metrics").GetProperty(split)));
            double stl = baseline.GetProperty("metrics").GetProperty("test")[0].GetProperty("accuracy").GetDouble();
            double mtl = multi.Single(m => m.GetProperty("task").GetString() == task).GetProperty("accuracy").GetDouble();
            sum += (mtl - stl) / stl * 100;
        }
        Assert.Equal(sum / expected.Length, baselines.GetProperty("deltaM").GetDouble(), 12);
        Assert.Equal(expected, baselines.GetProperty("gains").EnumerateArray().Select(g => g.GetProperty("task").GetString()));
    }

    [Fact]
    public void Predict_writes_every_task_and_the_product_of_the_factors_probabilities()
    {
        var csv = Write("clicks.csv", ClickCsv());
        var model = Path.Combine(_dir, "esmm.safetensors");
        var train = Mtl.Run(TrainFlags(csv, "--save", model));
        Assert.True(train.ExitCode == 0, train.ToString());

        var predict = Mtl.Run("predict", "--model", model, "--data", csv, "--probabilities");
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var lines = predict.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x1,x2,x3,click,P(click=0),P(click=1),conversion,P(conversion=0),P(conversion=1),ctcvr,P(ctcvr=0),P(ctcvr=1)", lines[0]);
        Assert.Equal(Rows + 1, lines.Length);
        int positives = 0;
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            double ctr = Parse(f[5]), cvr = Parse(f[8]), ctcvr = Parse(f[11]);
            Assert.True(Math.Abs(ctcvr - ctr * cvr) <= 1e-6 * Math.Abs(ctr * cvr), $"pCTCVR {ctcvr} vs pCTR·pCVR {ctr * cvr}: {line}");
            Assert.Equal(1 - ctcvr, Parse(f[10]), 1e-7);
            Assert.Equal(ctcvr > 0.5 ? "1" : "0", f[9]);
            Assert.True(ctcvr <= ctr && ctcvr <= cvr);
            if (f[9] == "1") positives++;
        }
        Assert.InRange(positives, 1, Rows - 1); // the model separates some rows: the products are not all one side of ½
    }

    [Fact]
    public void A_no_loss_factor_needs_no_column_and_is_predicted_but_not_scored()
    {
        // Only click and click-and-convert labels (the conversion column is left out by --inputs): cvr is the model's own.
        var csv = Write("clicks.csv", ClickCsv());
        var model = Path.Combine(_dir, "esmm.safetensors");
        var train = Mtl.Run("train", "--data", csv, "--inputs", "x1,x2,x3", "--binary", "click,ctcvr", "--task-product", "ctcvr=click*cvr", "--no-loss", "cvr",
            "--hidden", "8", "--tower", "6", "--epochs", "4", "--seed", "5", "--save", model, "--report", Path.Combine(_dir, "report.json"));
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("cvr (binary, no column; no loss)", train.Error);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "report.json")));
        Assert.Equal(["click", "ctcvr"], report.RootElement.GetProperty("metrics").GetProperty("test").EnumerateArray().Select(m => m.GetProperty("task").GetString()));

        var predict = Mtl.Run("predict", "--model", model, "--data", csv, "--probabilities");
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var lines = predict.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x1,x2,x3,click,P(click=0),P(click=1),ctcvr,P(ctcvr=0),P(ctcvr=1),cvr,P(cvr=0),P(cvr=1)", lines[0]);
        foreach (var f in lines.Skip(1).Select(l => l.Split(',')))
        {
            double ctr = Parse(f[5]), ctcvr = Parse(f[8]), cvr = Parse(f[11]);
            Assert.True(Math.Abs(ctcvr - ctr * cvr) <= 1e-6 * ctr * cvr, $"pCTCVR {ctcvr} vs pCTR·pCVR {ctr * cvr}");
            Assert.Equal(cvr > 0.5 ? "1" : "0", f[9]);
        }
        var evaluate = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", "-");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        using var scores = JsonDocument.Parse(evaluate.Output);
        Assert.Equal(["click", "ctcvr"], scores.RootElement.GetProperty("metrics").EnumerateArray().Select(m => m.GetProperty("task").GetString()));
    }

    [Fact]
    public void Export_writes_every_task_the_product_as_its_probability_only()
    {
        // The file's values against Predict: OnnxExportCommandTests.Mtl_export_of_an_esmm_checkpoint_gives_what_predict_gives.
        var csv = Write("clicks.csv", ClickCsv(40));
        var model = Path.Combine(_dir, "esmm.safetensors");
        Assert.Equal(0, Mtl.Run(TrainFlags(csv, "--save", model)).ExitCode);
        var run = Mtl.Run("export", "--model", model, "--onnx", Path.Combine(_dir, "esmm.onnx"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("outputs 'click.logits', 'click.probabilities', 'conversion.logits', 'conversion.probabilities', 'ctcvr.probabilities';", run.Error);
        Assert.True(File.Exists(Path.Combine(_dir, "esmm.onnx")));
    }

    [Fact]
    public void Evaluate_scores_every_task_the_conversion_task_on_clicked_rows_and_the_product_from_its_probabilities()
    {
        var text = ClickCsv();
        var csv = Write("clicks.csv", text);
        var model = Path.Combine(_dir, "esmm.safetensors");
        Assert.Equal(0, Mtl.Run(TrainFlags(csv, "--save", model)).ExitCode);
        var evaluate = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", "-");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        using var report = JsonDocument.Parse(evaluate.Output);
        var metrics = report.RootElement.GetProperty("metrics").EnumerateArray().ToDictionary(m => m.GetProperty("task").GetString()!);
        Assert.Equal(["click", "conversion", "ctcvr"], metrics.Keys);

        var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')).ToArray();
        int clicked = rows.Count(r => r[3] == "1");
        Assert.Equal(Rows, metrics["click"].GetProperty("rows").GetInt32());
        Assert.Equal(clicked, metrics["conversion"].GetProperty("rows").GetInt32());
        Assert.Equal(Rows, metrics["ctcvr"].GetProperty("rows").GetInt32());

        // The CTCVR loss and accuracy from the printed probabilities, in float64: −mean[y log p + (1 − y) log(1 − p)], [p > ½] = y.
        var predict = Mtl.Run("predict", "--model", model, "--data", csv, "--probabilities");
        var p = predict.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => Parse(l.Split(',')[11])).ToArray();
        var y = rows.Select(r => r[5] == "1" ? 1 : 0).ToArray();
        double loss = -Enumerable.Range(0, Rows).Average(i => y[i] == 1 ? Math.Log(p[i]) : Math.Log(1 - p[i]));
        double accuracy = Enumerable.Range(0, Rows).Count(i => (p[i] > 0.5 ? 1 : 0) == y[i]) / (double)Rows;
        Assert.Equal(loss, metrics["ctcvr"].GetProperty("loss").GetDouble(), 1e-6);
        Assert.Equal(accuracy, metrics["ctcvr"].GetProperty("accuracy").GetDouble(), 12);
    }

    [Theory]
    [InlineData(new[] { "--task-product", "ctcvr=click*clicks" }, "--task-product", "'clicks' is not a task")]
    [InlineData(new[] { "--task-product", "esmm=click*conversion" }, "--task-product", "'esmm' is not a task", "--binary column")]
    [InlineData(new[] { "--task-product", "ctcvr=click" }, "--task-product ctcvr=click", "at least two")]
    [InlineData(new[] { "--task-product", "ctcvr=click*click" }, "--task-product", "named twice")]
    [InlineData(new[] { "--task-product", "ctcvr=click*conversion", "--task-product", "click=ctcvr*conversion" }, "cycle: click → ctcvr → click")]
    [InlineData(new[] { "--task-product", "ctcvr=click*x3" }, "--task-product", "'x3' is Regression", "binary tasks only")]
    [InlineData(new[] { "--no-loss", "click" }, "--no-loss", "'click'", "nothing would train it")]
    [InlineData(new[] { "--task-product", "ctcvr=click*conversion", "--no-loss", "conversion", "--method", "dwa" }, "--no-loss conversion", "static weighting")]
    [InlineData(new[] { "--task-product", "ctcvr=click*conversion", "--task-input", "ctcvr=click" }, "--task-input", "'ctcvr' is a product")]
    [InlineData(new[] { "--task-input", "conversion=clicks" }, "--task-input", "'clicks' is not a task")]
    [InlineData(new[] { "--task-input", "conversion" }, "--task-input conversion", "TASK=SRC")]
    [InlineData(new[] { "--task-input", "conversion=click", "--task-input", "click=conversion" }, "cycle: click → conversion → click")]
    [InlineData(new[] { "--detach-task-inputs" }, "--detach-task-inputs", "--task-input")]
    [InlineData(new[] { "--task-product", "ctcvr=click*conversion", "--no-loss", "conversion", "--validation", "0.2", "--patience", "2", "--monitor", "conversion:auc" }, "--monitor conversion:auc", "--no-loss task")]
    [InlineData(new[] { "--task-product", "ctcvr=click*cvr" }, "'cvr' is not a task", "must be --no-loss")]
    [InlineData(new[] { "--no-loss", "conversion", "--task-input", "x3=conversion", "--detach-task-inputs" }, "--no-loss", "'conversion' has no loss")]
    public void Bad_graph_flags_exit_2_naming_the_flag(string[] flags, params string[] fragments)
    {
        var csv = Write("clicks.csv", ClickCsv(40));
        Mtl.AssertFails(Mtl.Run(["train", "--data", csv, "--binary", "click,conversion,ctcvr", "--regression", "x3", "--epochs", "1", .. flags]), ExitCodes.Usage, fragments);
    }

    [Fact]
    public void A_product_label_that_is_not_the_and_of_its_factors_labels_exits_1_naming_file_row_and_column()
    {
        // ctcvr = 1 on the first row without a click (file row index + 2: the header is row 1).
        var rows = ClickCsv(40).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToArray();
        int bad = Array.FindIndex(rows, r => r.Split(',')[3] == "0");
        var csv = Write("bad.csv", ClickCsv(40, ctcvrOverride: i => i == bad ? "1" : null!));
        Mtl.AssertFails(Mtl.Run(TrainFlags(csv)), ExitCodes.BadInput, "bad.csv", $"row {bad + 2}", "'ctcvr'", "AND", "'click' is '0'");
    }

    private static double Parse(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
}
