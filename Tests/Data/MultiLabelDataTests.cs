using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Data;
using Engine.Tests.Cli;
using Engine.Training;

namespace Engine.Tests.Data;

/// <summary>
/// Multi-label tasks end to end: the loader reads k columns of 0/1 into [rows × k] labels (an empty or NA cell: no label
/// for that label of that row; anything else: an error naming the file, line and column); training data and the device
/// copy keep k labels per row through a reshuffle; mtl train --multilabel NAME=COL,… learns three separable labels (AUC ≥
/// 0.95 on the test split, the tables and the JSON report carrying loss, accuracy, micro-F1 and mean AUC); predict writes
/// one probability per label column; the spec, the ONNX export and bad flags.
/// </summary>
public class MultiLabelDataTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>x1, x2, y = x1 − x2, and labels a = [x1 &gt; 0], b = [x2 &gt; 0], c = [x1 + x2 &gt; 0.5]; every 7th row has no a.</summary>
    private static string Csv(int rows = 240)
    {
        var random = new Random(3);
        var text = new StringBuilder("x1,x2,y,a,b,c\n");
        for (int i = 0; i < rows; i++)
        {
            double x1 = Math.Round(random.NextDouble() * 4 - 2, 3), x2 = Math.Round(random.NextDouble() * 4 - 2, 3);
            string a = i % 7 == 0 ? "" : x1 > 0 ? "1" : "0";
            text.Append(CultureInfo.InvariantCulture, $"{x1},{x2},{x1 - x2:R},{a},{(x2 > 0 ? 1 : 0)},{(x1 + x2 > 0.5 ? 1 : 0)}\n");
        }
        return text.ToString();
    }

    [Fact]
    public void The_loader_reads_k_label_columns_and_missing_cells()
    {
        var path = _dir.Write("t.csv", "x,a,b\n1,1,0\n2,,1\n3,NA,0.0\n");
        var data = CsvTable.Load(path, TableSchema.Empty.WithNumeric("x").WithTask(TaskSpec.MultiLabel("tags", "a", "b")));
        var tags = Assert.IsType<MultiLabelTargets>(data.Task("tags"));
        Assert.Equal([1, 0, -1, 1, -1, 0], tags.Labels);
        Assert.Equal(4, tags.LabelledCount);
        Assert.Empty(data.Encoding.Labels);                                   // 0/1 columns need no label map
        var train = TrainingData.FromDataset(data);
        Assert.Equal((TaskKind.MultiLabel, 2, 3), (train["tags"].Kind, train["tags"].Width, train["tags"].Rows));

        var bad = _dir.Write("bad.csv", "x,a,b\n1,1,0\n2,yes,1\n");
        var e = Assert.Throws<DataFileException>(() => CsvTable.Load(bad, TableSchema.Empty.WithNumeric("x").WithTask(TaskSpec.MultiLabel("tags", "a", "b"))));
        Assert.Contains("bad.csv", e.Message);
        Assert.Contains("row 3", e.Message);
        Assert.Contains("'a'", e.Message.Replace("\"", "'"));
        Assert.Contains("0 or 1", e.Message);
    }

    [Fact]
    public void A_reshuffle_moves_the_k_labels_of_each_row_together()
    {
        var spec = new ModelSpec(1, [4], [TaskHead.MultiLabel("tags", 3)]);
        using var model = MultiTaskModel.Create(spec, new Engine.Kernels.Cpu.CpuBackend<float>());
        var data = new TrainingData([0, 1, 2], 1, [TaskData.MultiLabel("tags", [1, 0, 1, /**/ 0, -1, 0, /**/ 1, 1, -1], 3)]);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        device.Reorder([2, 0, 1]);
        Assert.Equal([1, 1, -1, /**/ 1, 0, 1, /**/ 0, -1, 0], model.Backend.ToArray(device.Labels(0, 0, 3)));
        Assert.Equal([1, 0, 1], model.Backend.ToArray(device.Labels(0, 1, 1)));
    }

    [Fact]
    public void Train_predict_and_export_a_multi_label_task()
    {
        var csv = _dir.Write("train.csv", Csv());
        var model = _dir.File_("m.safetensors");
        var report = _dir.File_("r.json");
        var r = Mtl.Run("train", "--data", csv, "--regression", "y", "--multilabel", "tags=a,b,c", "--epochs", "60", "--batch-size", "16",
            "--test", "0.25", "--save", model, "--report", report);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("tags (multi-label, 3 labels)", r.Error + r.Output);
        var test = JsonDocument.Parse(File.ReadAllText(report)).RootElement.GetProperty("metrics").GetProperty("test")
            .EnumerateArray().Single(t => t.GetProperty("task").GetString() == "tags");
        Assert.Equal("multiLabel", test.GetProperty("kind").GetString());
        Assert.InRange(test.GetProperty("auc").GetDouble(), 0.95, 1.0);
        Assert.InRange(test.GetProperty("accuracy").GetDouble(), 0.85, 1.0);
        Assert.InRange(test.GetProperty("f1").GetDouble(), 0.8, 1.0);
        Assert.Equal(test.GetProperty("loss").GetDouble(), test.GetProperty("logLoss").GetDouble());

        var fresh = _dir.Write("new.csv", "x1,x2\n1.5,-1.5\n-1.5,1.8\n");
        var p = Mtl.Run("predict", "--model", model, "--data", fresh);
        Assert.True(p.ExitCode == 0, p.ToString());
        var lines = p.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x1,x2,y,a,b,c", lines[0]);
        var first = lines[1].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.True(first[3] > 0.5 && first[4] < 0.5, lines[1]);              // P(a) high, P(b) low: x1 > 0 > x2
        Assert.All(first[3..], v => Assert.InRange(v, 0, 1));

        var evalReport = _dir.File_("e.json");                            // evaluate scores the labelled file the same way
        var e = Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", evalReport);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("tags", e.Output + e.Error);
        var scored = JsonDocument.Parse(File.ReadAllText(evalReport)).RootElement.GetRawText();
        Assert.Contains("\"multiLabel\"", scored);
        Assert.Contains("\"auc\"", scored);

        var onnx = _dir.File_("m.onnx");
        var x = Mtl.Run("export", "--model", model, "--onnx", onnx);
        Assert.True(x.ExitCode == 0, x.ToString());
        Assert.Contains("'tags.probabilities'", x.Error);
    }

    [Theory]
    [InlineData("tags=", "--multilabel tags=: name at least one label column")]
    [InlineData("tags=a,a", "a label column is named twice")]
    [InlineData("t.x=a,b", "must not contain '.'")]
    public void Bad_multilabel_values_are_usage_errors_naming_the_flag(string value, string message)
    {
        var csv = _dir.Write("train.csv", Csv(20));
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--multilabel", value), Engine.Cli.ExitCodes.Usage, message);
    }
}
