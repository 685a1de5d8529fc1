using System.Globalization;
using System.Text;
using Engine.Data;
using Engine.Experiments;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// <c>mtl train --remove-labels TASK=FRACTION[,…]</c> (<see cref="ExperimentSettings.RemoveLabels"/>, <see cref="LabelRemoval"/>):
/// each named task loses exactly round(fraction·rows) labels, drawn with its own seed, reproducibly, before the split; the
/// other tasks and the inputs are untouched; the report scores only the labelled rows; bad values are usage errors.
/// </summary>
public class RemoveLabelsTests
{
    /// <summary>n rows: x, a regression y, classes c ∈ {a, b, c}, a regression z that no flag touches.</summary>
    private static string Csv(int rows)
    {
        var text = new StringBuilder("x,y,c,z\n");
        for (int i = 0; i < rows; i++)
            text.Append(CultureInfo.InvariantCulture, $"{i * 0.01},{i % 7},{"abc"[i % 3]},{i % 5}\n");
        return text.ToString();
    }

    private static readonly TableSchema Schema = TableSchema.Empty.WithNumeric("x").WithRegression("y").WithClassification("c").WithRegression("z");

    [Fact]
    public void Each_task_loses_exactly_its_fraction_of_rows_from_its_own_seeded_draw_and_the_rest_is_untouched()
    {
        using var dir = new TempDirectory();
        var data = CsvTable.Load(dir.Write("d.csv", Csv(200)), Schema);
        var fractions = new Dictionary<string, double> { ["y"] = 0.5, ["c"] = 0.3 };
        var removed = LabelRemoval.Remove(data, fractions, seed: 7);

        var y = ((RegressionTargets)data.Task("y")).Values;
        var yRemoved = ((RegressionTargets)removed.Task("y")).Values;
        var yRows = Enumerable.Range(0, 200).Where(r => float.IsNaN(yRemoved[r])).ToArray();
        Assert.Equal(100, yRows.Length);
        Assert.Equal(LabelRemoval.ChooseRows(200, 0.5, LabelRemoval.TaskSeed(7, "y")), yRows);
        for (int r = 0; r < 200; r++) if (!yRows.Contains(r)) Assert.Equal(y[r], yRemoved[r]);

        var c = ((ClassTargets)data.Task("c")).Classes;
        var cRemoved = ((ClassTargets)removed.Task("c")).Classes;
        var cRows = Enumerable.Range(0, 200).Where(r => cRemoved[r] == ClassTargets.Missing).ToArray();
        Assert.Equal(60, cRows.Length);
        for (int r = 0; r < 200; r++) if (!cRows.Contains(r)) Assert.Equal(c[r], cRemoved[r]);
        Assert.False(cRows.All(yRows.Contains), "the tasks draw independently: c's rows are not a subset of y's");

        Assert.Equal(((RegressionTargets)data.Task("z")).Values, ((RegressionTargets)removed.Task("z")).Values);   // not named
        Assert.Equal(data.Inputs, removed.Inputs);
        Assert.Equal(200, data.Task("y").LabelledCount);                                                             // the original is unchanged

        Assert.Equal(yRemoved, ((RegressionTargets)LabelRemoval.Remove(data, fractions, seed: 7).Task("y")).Values);  // reproducible
        Assert.NotEqual(yRows, LabelRemoval.ChooseRows(200, 0.5, LabelRemoval.TaskSeed(8, "y")));                   // another seed, other rows
        Assert.NotEqual(LabelRemoval.TaskSeed(7, "y"), LabelRemoval.TaskSeed(7, "c"));
    }

    [Fact]
    public void The_settings_remove_labels_before_the_split_so_every_split_lacks_them()
    {
        using var dir = new TempDirectory();
        var settings = new ExperimentSettings
        {
            DataPath = dir.Write("d.csv", Csv(400)), Regression = ["y", "z"], Classification = ["c"], Inputs = ["x"],
            ValidationFraction = 0.25, TestFraction = 0.25, RemoveLabels = new Dictionary<string, double> { ["y"] = 0.5 }, Seed = 3,
        };
        var data = PreparedData.Load(settings);
        var chosen = LabelRemoval.ChooseRows(400, 0.5, LabelRemoval.TaskSeed(3, "y"));   // --remove-labels-seed defaults to --seed
        Assert.Equal(200, data.All.Task("y").LabelledCount);
        Assert.Equal(400, data.All.Task("z").LabelledCount);
        foreach (var (rows, part) in new[] { (data.Split.Train, data.RawTrain), (data.Split.Validation, data.RawValidation), (data.Split.Test, data.RawTest) })
        {
            Assert.Equal(rows.Count(r => !chosen.Contains(r)), part.Task("y").LabelledCount);
            Assert.InRange(part.Task("y").LabelledCount, 1, rows.Length - 1);   // each split lost some and kept some
        }
        var reseeded = PreparedData.Load(settings with { RemoveLabelsSeed = 11 });
        Assert.Equal(data.Split.Test, reseeded.Split.Test);                          // the split follows --seed only
        Assert.Equal(LabelRemoval.ChooseRows(400, 0.5, LabelRemoval.TaskSeed(11, "y")),
            Enumerable.Range(0, 400).Where(r => float.IsNaN(((RegressionTargets)reseeded.All.Task("y")).Values[r])).ToArray());

        var unknown = Assert.Throws<ExperimentSetupException>(() => PreparedData.Load(settings with { RemoveLabels = new Dictionary<string, double> { ["w"] = 0.5 } }));
        Assert.Contains("--remove-labels: 'w' is not a task", unknown.Message);
        var whole = Assert.Throws<ExperimentSetupException>(() => PreparedData.Load(settings with { RemoveLabels = new Dictionary<string, double> { ["y"] = 1 } }));
        Assert.Contains("must lie in [0, 1)", whole.Message);
    }

    [Fact]
    public void From_the_training_split_only_the_validation_and_test_rows_keep_every_label()
    {
        using var dir = new TempDirectory();
        var settings = new ExperimentSettings
        {
            DataPath = dir.Write("d.csv", Csv(400)), Regression = ["y", "z"], Classification = ["c"], Inputs = ["x"],
            ValidationFraction = 0.25, TestFraction = 0.25, RemoveLabels = new Dictionary<string, double> { ["y"] = 0.5, ["c"] = 0.3 }, Seed = 3,
            RemoveLabelsFrom = LabelRemovalScope.Train,
        };
        var data = PreparedData.Load(settings);
        var all = PreparedData.Load(settings with { RemoveLabels = new Dictionary<string, double>() });
        Assert.Equal(all.Split.Train, data.Split.Train);                             // the same split as without removal
        Assert.Equal(all.Split.Test, data.Split.Test);
        foreach (var (task, fraction) in new[] { ("y", 0.5), ("c", 0.3) })
        {
            // round(f·200) of the 200 training rows, drawn by position among them with the task's seed.
            var chosen = LabelRemoval.ChooseRows(data.Split.Train.Length, fraction, LabelRemoval.TaskSeed(3, task)).Select(i => data.Split.Train[i]).ToHashSet();
            Assert.Equal((int)Math.Round(fraction * 200), chosen.Count);
            Assert.Equal(200 - chosen.Count, data.RawTrain.Task(task).LabelledCount);
            Assert.Equal(data.Split.Validation.Length, data.RawValidation.Task(task).LabelledCount);  // untouched
            Assert.Equal(data.Split.Test.Length, data.RawTest.Task(task).LabelledCount);
            var missing = Enumerable.Range(0, 400).Where(r => task == "y"
                ? float.IsNaN(((RegressionTargets)data.All.Task("y")).Values[r])
                : ((ClassTargets)data.All.Task("c")).Classes[r] == ClassTargets.Missing).ToHashSet();
            Assert.Equal(chosen.Order(), missing.Order());
        }
        Assert.Equal(400, data.All.Task("z").LabelledCount);
        using var csvDir = new TempDirectory();
        var csv = csvDir.Write("d.csv", Mtl.SyntheticCsv());
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels-from", "train"]), Engine.Cli.ExitCodes.Usage, "--remove-labels-from", "name the labels");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "y=0.5", "--remove-labels-from", "test"]), Engine.Cli.ExitCodes.Usage,
            "--remove-labels-from: Argument 'test' not recognized", "'all' 'train'");
    }

    [Fact]
    public void Wine_trains_with_half_the_quality_and_30_percent_of_the_color_labels_removed_and_scores_only_labelled_rows()
    {
        var run = Mtl.Run("train", "--data", BundledFiles.WineQuality, "--regression", "quality", "--classification", "color",
            "--remove-labels", "quality=0.5,color=0.3", "--epochs", "1", "--seed", "5", "--report", "-");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = ExperimentReport.FromJson(run.Output);
        Assert.Equal(0.5, report.Settings.RemoveLabels["quality"]);
        Assert.Equal(0.3, report.Settings.RemoveLabels["color"]);
        Assert.Contains("Removed labels (--remove-labels, seed 5): quality from 3248 of 6497 rows (3249 labelled left), color from 1949 of 6497 rows (4548 labelled left).", run.Error);

        // The expected counts from the split and the draws alone: 6497 rows, 20 % test, round(0.5·6497) = 3248 (half to even), round(0.3·6497) = 1949.
        var split = DataSplit.Shuffled(6497, 1 - 0.0 - 0.2, 0, 5);   // as PreparedData.From splits it
        foreach (var (task, fraction) in new[] { ("quality", 0.5), ("color", 0.3) })
        {
            var chosen = LabelRemoval.ChooseRows(6497, fraction, LabelRemoval.TaskSeed(5, task)).ToHashSet();
            Assert.Equal(split.Test.Count(r => !chosen.Contains(r)), report.Metrics.Test.Single(s => s.Task == task).Rows);
            Assert.Equal(split.Train.Count(r => !chosen.Contains(r)), report.Metrics.Train.Single(s => s.Task == task).Rows);
        }
        Assert.InRange(report.Metrics.Test.Single(s => s.Task == "quality").Rows, 550, 750);    // about half of the 1299 test rows
        Assert.True(double.IsFinite(report.Metrics.Test.Single(s => s.Task == "quality").Rmse!.Value));
    }

    [Fact]
    public void Bad_values_are_usage_errors_naming_the_flag()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        var usage = Engine.Cli.ExitCodes.Usage;
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "w=0.5"]), usage, "--remove-labels: 'w' is not a task", "tasks: y, label");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "y=1"]), usage, "--remove-labels y=1", "must lie in [0, 1)");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "y=-0.1"]), usage, "--remove-labels y=-0.1", "must lie in [0, 1)");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "y"]), usage, "--remove-labels: 'y' is not TASK=FRACTION");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels", "y=0.1,y=0.2"]), usage, "'y' is given twice");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--remove-labels-seed", "3"]), usage, "--remove-labels-seed seeds --remove-labels");
        // The bundled schema's tasks are known once the file is read: an unknown task there is bad input (exit 1).
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--remove-labels", "quality=0.5"), Engine.Cli.ExitCodes.BadInput, "--remove-labels: 'quality' is not a task");
    }
}
