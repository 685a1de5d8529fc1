using System.Globalization;
using System.Text.Json;
using Engine.Cli;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary><c>mtl</c> run in-process: training, the report, save → predict, evaluate, help, devices.</summary>
public class CliTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Train_without_arguments_trains_the_bundled_energy_data_to_the_target()
    {
        var report = _dir.File_("report.json");
        var r = Mtl.Run("train", "--report", report);
        Assert.True(r.ExitCode == 0, r.ToString());
        // Status and one progress line per epoch on stderr; the results on stdout.
        Assert.Contains("energy_efficiency.csv: 768 rows", r.Error);
        Assert.Contains("multi-task: epoch 300/300", r.Error);
        Assert.DoesNotContain("epoch", r.Output);
        // The plain-text table (redirected output: no ANSI escapes).
        Assert.Contains("heating_load", r.Output);
        Assert.Contains("cooling_load", r.Output);
        Assert.Contains("RMSE", r.Output);
        Assert.DoesNotContain("\u001b[", r.Output);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var test = json.RootElement.GetProperty("metrics").GetProperty("test");
        double Mae(string task) => test.EnumerateArray().Single(t => t.GetProperty("task").GetString() == task).GetProperty("mae").GetDouble();
        Assert.InRange(Mae("heating_load"), 0, 0.6); // the energy target (≈ 0.26 reached)
        Assert.InRange(Mae("cooling_load"), 0, 1.5); // (≈ 0.38 reached)
    }

    [Fact]
    public void The_report_holds_settings_per_split_metrics_history_and_baselines()
    {
        var path = _dir.File_("report.json");
        var r = Mtl.Run("train", "--epochs", "6", "--validation", "0.1", "--test", "0.2", "--seed", "5", "--hidden", "16",
            "--combine", "pcgrad", "--lr", "0.02", "--baselines", "--report", path);
        Assert.True(r.ExitCode == 0, r.ToString());

        // Read with JsonDocument, not the report types, so the file format itself is checked.
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        var settings = root.GetProperty("settings");
        Assert.Equal(6, settings.GetProperty("epochs").GetInt32());
        Assert.Equal(5UL, settings.GetProperty("seed").GetUInt64());
        Assert.Equal([16], settings.GetProperty("hidden").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(0.02, settings.GetProperty("step").GetProperty("learningRate").GetDouble());
        Assert.Equal("pcGrad", settings.GetProperty("step").GetProperty("combination").GetString());

        var data = root.GetProperty("data");
        Assert.Equal(768, data.GetProperty("rows").GetInt32());
        int train = data.GetProperty("trainRows").GetInt32(), validation = data.GetProperty("validationRows").GetInt32(),
            test = data.GetProperty("testRows").GetInt32();
        Assert.Equal((538, 77, 153), (train, validation, test)); // round(768·0.7), round(768·0.1), the rest

        var metrics = root.GetProperty("metrics");
        foreach (var (split, rows) in new[] { ("train", train), ("validation", validation), ("test", test) })
        {
            var scores = metrics.GetProperty(split).EnumerateArray().ToArray();
            Assert.Equal(["heating_load", "cooling_load"], scores.Select(s => s.GetProperty("task").GetString()));
            foreach (var s in scores)
            {
                Assert.Equal(rows, s.GetProperty("rows").GetInt32());
                Assert.Equal("regression", s.GetProperty("kind").GetString());
                Assert.True(s.GetProperty("rmse").GetDouble() >= s.GetProperty("mae").GetDouble()); // RMSE ≥ MAE always
                Assert.Equal(JsonValueKind.Null, s.GetProperty("accuracy").ValueKind);
            }
        }

        var history = root.GetProperty("history").EnumerateArray().ToArray();
        Assert.Equal([1, 2, 3, 4, 5, 6], history.Select(h => h.GetProperty("epoch").GetInt32()));
        Assert.All(history, h => Assert.Equal(2, h.GetProperty("validation").GetArrayLength()));
        // PCGrad computes per-task trunk gradients, so each epoch reports their cosines: symmetric, 1 on the diagonal.
        foreach (var h in history)
        {
            var cos = h.GetProperty("taskGradientCosines").EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            Assert.Equal(2, cos.Length);
            Assert.Equal(1.0, cos[0][0], 6);
            Assert.Equal(1.0, cos[1][1], 6);
            Assert.Equal(cos[0][1], cos[1][0], 12);
            Assert.InRange(cos[0][1], -1.0, 1.0);
        }
        var seconds = history.Select(h => h.GetProperty("seconds").GetDouble()).ToArray();
        Assert.Equal(seconds.Order(), seconds); // time since the start: never decreases

        // Δm recomputed from the reported test RMSEs: −(mtl − stl)/stl·100 per task, averaged.
        var baselines = root.GetProperty("baselines");
        double sum = 0;
        foreach (var run in baselines.GetProperty("runs").EnumerateArray())
        {
            string task = run.GetProperty("task").GetString()!;
            double stl = run.GetProperty("metrics").GetProperty("test")[0].GetProperty("rmse").GetDouble();
            double mtl = metrics.GetProperty("test").EnumerateArray().Single(s => s.GetProperty("task").GetString() == task).GetProperty("rmse").GetDouble();
            sum += -(mtl - stl) / stl * 100;
        }
        Assert.Equal(sum / 2, baselines.GetProperty("deltaM").GetDouble(), 9);
        Assert.Contains("Δm", r.Output);
    }

    [Fact]
    public void Saved_model_predicts_the_same_values_through_mtl_predict()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var modelPath = _dir.File_("model.safetensors");
        var settings = new ExperimentSettings
        {
            DataPath = csv, Regression = ["y"], Classification = ["label"], Categorical = ["shade"], Epochs = 40, BatchSize = 16, TestFraction = 0.25,
        };
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(settings, backend, cancellation: TestContext.Current.CancellationToken);
        outcome.SaveModel(modelPath);
        var expected = ModelEvaluation.PredictOriginalUnits(outcome.Model, outcome.Data.All, outcome.Data.Standardization, outcome.Data.All.Encoding);

        var output = _dir.File_("predictions.csv");
        var r = Mtl.Run("predict", "--model", modelPath, "--data", csv, "--output", output, "--probabilities", "--device", "cpu");
        Assert.True(r.ExitCode == 0, r.ToString());

        var lines = File.ReadAllLines(output);
        Assert.Equal("x1,x2,shade,y,label,P(label=neg),P(label=pos)", lines[0]);
        Assert.Equal(81, lines.Length);
        var y = expected.Single(o => o.Task == "y");
        var label = expected.Single(o => o.Task == "label");
        var source = File.ReadAllLines(csv);
        for (int i = 0; i < 80; i++)
        {
            var fields = lines[i + 1].Split(',');
            var input = source[i + 1].Split(',');
            Assert.Equal(float.Parse(input[0], CultureInfo.InvariantCulture), float.Parse(fields[0], CultureInfo.InvariantCulture)); // inputs as read
            Assert.Equal(float.Parse(input[1], CultureInfo.InvariantCulture), float.Parse(fields[1], CultureInfo.InvariantCulture));
            Assert.Equal(input[2], fields[2]);                                            // the category, decoded
            Assert.Equal(y.Values![i], float.Parse(fields[3], CultureInfo.InvariantCulture)); // bit-identical regression value
            Assert.Equal(label.Labels![i], fields[4]);                                    // the label string
            float pNeg = float.Parse(fields[5], CultureInfo.InvariantCulture), pPos = float.Parse(fields[6], CultureInfo.InvariantCulture);
            Assert.Equal(label.Probabilities![2 * i], pNeg);
            Assert.Equal(label.Probabilities![2 * i + 1], pPos);
            Assert.Equal(1.0, pNeg + pPos, 5);
            Assert.Equal(pPos > pNeg ? "pos" : "neg", fields[4]);
        }
        // The saved standardization is the training rows' own: μ of x1 recomputed here over the training rows
        // only, and different from the mean over all rows (a leak of the test rows would make them equal).
        var checkpoint = Engine.Checkpoints.Checkpoint.Load(modelPath);
        var all = outcome.Data.All;
        double trainMean = outcome.Data.Split.Train.Average(r => (double)all.Inputs[r * all.InputCount]);
        double allMean = Enumerable.Range(0, all.RowCount).Average(r => (double)all.Inputs[r * all.InputCount]);
        Assert.Equal(trainMean, checkpoint.Standardization!.Inputs.Mean[0], 9);
        Assert.NotEqual(allMean, checkpoint.Standardization.Inputs.Mean[0], 6);

        // And the model learned something: y = 2·x1 − x2 + [dark] has σ ≈ 2.6; the predictions track it.
        var truth = ((RegressionTargets)outcome.Data.All.Task("y")).Values;
        double rmse = Math.Sqrt(truth.Select((t, i) => Math.Pow(t - y.Values![i], 2)).Average());
        Assert.InRange(rmse, 0, 0.5);
    }

    [Fact]
    public void Evaluate_reproduces_the_training_metrics_on_the_training_rows()
    {
        // With --test 0 every row trains, so evaluating the same file must give the report's train metrics.
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var model = _dir.File_("model.safetensors");
        var trainReport = _dir.File_("train.json");
        var evalReport = _dir.File_("eval.json");
        var flags = Mtl.SyntheticTrainFlags(csv).Select(a => a == "0.25" ? "0" : a).ToArray();
        var trained = Mtl.Run([.. flags, "--save", model, "--report", trainReport]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var r = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", evalReport);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("label", r.Output);

        using var a = JsonDocument.Parse(File.ReadAllText(trainReport));
        using var b = JsonDocument.Parse(File.ReadAllText(evalReport));
        var expected = a.RootElement.GetProperty("metrics").GetProperty("train").EnumerateArray().ToArray();
        var actual = b.RootElement.GetProperty("metrics").EnumerateArray().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            foreach (var metric in new[] { "loss", "rmse", "mae", "accuracy" })
            {
                var e = expected[i].GetProperty(metric);
                if (e.ValueKind == JsonValueKind.Null) { Assert.Equal(JsonValueKind.Null, actual[i].GetProperty(metric).ValueKind); continue; }
                // Same rows in another order: equal up to float64 summation order.
                Assert.Equal(e.GetDouble(), actual[i].GetProperty(metric).GetDouble(), 9);
            }
    }

    [Fact]
    public void Predict_writes_to_standard_output_without_an_output_file()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var model = _dir.File_("model.safetensors");
        Assert.Equal(0, Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--save", model]).ExitCode);
        var inputs = _dir.Write("new.csv", "x2;x1;shade\n1;2;dark\n-1;-2;light\n"); // other column order and separator
        var r = Mtl.Run("predict", "--model", model, "--data", inputs);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x1,x2,shade,y,label", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("2,1,dark,", lines[1]);
        // y = 2·2 − 1 + 1 = 4 and x1 + x2 = 3 > 0 → pos; y = −4 + 1 = −3 → neg. The model is close after 40 epochs.
        var first = lines[1].Split(',');
        var second = lines[2].Split(',');
        Assert.InRange(double.Parse(first[3], CultureInfo.InvariantCulture), 3.0, 5.0);
        Assert.InRange(double.Parse(second[3], CultureInfo.InvariantCulture), -4.0, -2.0);
        Assert.Equal("pos", first[4]);
        Assert.Equal("neg", second[4]);
    }

    [Fact]
    public void Interactive_mode_draws_a_progress_bar_and_the_table()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var output = new StringWriter(CultureInfo.InvariantCulture);
        var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = App.Run([.. Mtl.SyntheticTrainFlags(csv), "--baselines"], output, error, interactive: true, TestContext.Current.CancellationToken);
        Assert.True(code == 0, error.ToString());
        var bar = error.ToString();
        Assert.Contains("multi-task 40/40", bar);                    // the live bar's description, on stderr
        Assert.Contains("single-task label 40/40", bar);
        Assert.DoesNotContain("multi-task: epoch", bar);             // not the plain-text lines
        Assert.Contains("Δm", output.ToString());                    // the tables on stdout
    }

    [Fact]
    public void Train_help_lists_every_trainer_flag()
    {
        var r = Mtl.Run("train", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var flag in new[]
        {
            "--hidden", "--activation", "--regression", "--classification", "--inputs", "--categorical", "--task-weight", "--head-lr",
            "--optimizer", "--lr", "--beta1", "--beta2", "--eps", "--weight-decay", "--momentum", "--nesterov", "--amsgrad",
            "--schedule", "--step-size", "--gamma", "--decay-steps", "--min-lr", "--warmup", "--clip", "--combine", "--weighting",
            "--epochs", "--batch-size", "--seed", "--device", "--init-weights", "--save", "--patience", "--validation", "--test",
            "--baselines", "--report", "--data", "--delimiter", "--min-delta", "--pcgrad-reduction", "--projection-reference",
            "--diagnostics", "--cagrad-c", "--dwa-temperature", "--dampening", "--no-bias-correction", "--head-decay",
            "--output-activation", "--init <", "--alpha", "--centered",
        })
            Assert.Contains(flag, r.Output);
    }

    [Fact]
    public void Accuracy_weighting_trains_classification_tasks_and_refuses_a_regression()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var ok = Mtl.Run("train", "--data", csv, "--classification", "label", "--categorical", "shade", "--inputs", "x1,x2",
            "--weighting", "accuracy", "--epochs", "3");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--weighting", "accuracy"]), ExitCodes.BadInput, "'y'", "regression");
    }

    [Fact]
    public void Devices_lists_the_cpu()
    {
        var r = Mtl.Run("devices");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Cpu", r.Output);
        Assert.Contains("--device auto picks", r.Output);
    }

    [Fact]
    public void Every_optimizer_schedule_combination_and_weighting_flag_trains()
    {
        // One epoch each on the synthetic table: every flag value reaches the engine and gives finite metrics.
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        string[][] variants =
        [
            ["--optimizer", "sgd", "--momentum", "0.9", "--nesterov"],
            ["--optimizer", "adamw", "--weight-decay", "0.01", "--amsgrad"],
            ["--schedule", "step", "--step-size", "2", "--gamma", "0.5", "--warmup", "2"],
            ["--schedule", "exponential", "--gamma", "0.99"],
            ["--schedule", "constant", "--clip", "1"],
            ["--combine", "projection", "--projection-reference", "label"], ["--combine", "pcgrad", "--pcgrad-reduction", "mean"],
            ["--diagnostics"], ["--validation", "0.2", "--patience", "2", "--min-delta", "0.001"], ["--combine", "mgda"], ["--combine", "cagrad", "--cagrad-c", "0.4"],
            ["--weighting", "loss-balanced"], ["--weighting", "dwa"], ["--weighting", "uncertainty"],
            ["--activation", "tanh", "--hidden", "8,8", "--task-weight", "y=2", "--head-lr", "label=0.001"],
            ["--optimizer", "sgd", "--momentum", "0.9", "--dampening", "0.1"], ["--no-bias-correction"],
            ["--optimizer", "rmsprop", "--lr", "0.001", "--momentum", "0.5", "--centered", "--alpha", "0.9", "--weight-decay", "0.01"],
            ["--optimizer", "adagrad", "--lr", "0.05", "--lr-decay", "0.01", "--initial-accumulator", "0.1", "--weight-decay", "0.01", "--clip", "1"],
            ["--head-decay", "label=0.01", "--output-activation", "identity", "--init", "xavier-uniform"],
            ["--hidden", "8", "--batch-size", "0"],
        ];
        foreach (var extra in variants)
        {
            var report = _dir.File_("r.json");
            var r = Mtl.Run(["train", "--data", csv, "--regression", "y", "--classification", "label", "--categorical", "shade",
                "--epochs", "3", .. extra, "--report", report]);
            Assert.True(r.ExitCode == 0, $"{string.Join(' ', extra)}: {r}");
            var parsed = ExperimentReport.FromJson(File.ReadAllText(report));
            Assert.All(parsed.Metrics.Test, s => Assert.True(double.IsFinite(s.Loss), $"{string.Join(' ', extra)}: {s}"));
        }
    }
}
