using Engine.Data;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Training;

namespace Engine.Tests.Experiments;

/// <summary>
/// The "embed the library in a .NET program" examples, compiled and run here so that they cannot rot: the body of
/// <see cref="TrainWine"/> is docs/cli.md's, the marked part of <see cref="ReadmeExample"/> is README.md's (there with the
/// literal paths "data/wine_quality.csv" and "wine.safetensors" in place of the two parameters).
/// </summary>
public class EmbeddingExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("engine-embed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- begin example (docs/cli.md) ----
    static (float[] Quality, string[] Color, Dataset Test) TrainWine(string csv, string modelPath)
    {
        var data  = CsvTable.Load(csv, BundledDatasets.WineQualityRegression);        // quality: regression, color: class
        var split = DataSplit.Shuffled(data.RowCount, trainFraction: 0.8, validationFraction: 0, seed: 42);
        var scale = Standardization.Fit(data, split.Train);                         // μ, σ of the training rows only
        var train = scale.Apply(data.Select(split.Train));
        var test  = data.Select(split.Test);

        using var backend = Device.Create("auto");                                  // CUDA if present, else the SIMD CPU path
        var spec = new ModelSpec(data.InputCount, [64, 64],
            [TaskHead.Regression("quality"), TaskHead.Classification("color", classes: 2)]) { Seed = 42 };
        using var model = MultiTaskModel.Create(spec, backend);
        var trainer = new Trainer(new TrainerOptions
        {
            Epochs = 30, BatchSize = 32, Seed = 42,
            Step = new StepOptions { LearningRate = 0.01, Schedule = ScheduleKind.Cosine },
        });
        trainer.Fit(model, TrainingData.FromDataset(train, scale));

        var predictions = model.PredictOriginalUnits(test, scale);                  // raw rows in, original units out
        var quality = predictions["quality"].Values;                                // in quality points
        var color = predictions["color"].Classes!.Select(data.Encoding.Labels["color"].LabelOf).ToArray(); // "red"/"white"
        model.Save(modelPath, new ModelMetadata(scale, data.Encoding, data.Schema)); // what 'mtl predict' needs
        return (quality, color, test);
    }
    // ---- end example ----

    static IReadOnlyList<TaskMetrics> ReadmeExample(string winePath, string modelPath)
    {
        // ---- begin README example ----
        var data  = CsvTable.Load(winePath, BundledDatasets.WineQualityRegression);  // quality: regression, color: class
        var split = DataSplit.Shuffled(data.RowCount, trainFraction: 0.8, validationFraction: 0, seed: 42);
        var scale = Standardization.Fit(data, split.Train);                        // μ, σ of the training rows only
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        var test  = TrainingData.FromDataset(scale.Apply(data.Select(split.Test)), scale);

        using var backend = Device.Create("auto");                                 // CUDA if present, else the SIMD CPU path
        var spec = new ModelSpec(data.InputCount, [64, 64],
            [TaskHead.Regression("quality"), TaskHead.Classification("color", classes: 2)]) { Seed = 42 };
        using var model = MultiTaskModel.Create(spec, backend);
        new Trainer(new TrainerOptions { Epochs = 30, BatchSize = 32, Seed = 42, Step = new StepOptions
            { LearningRate = 0.01, Schedule = ScheduleKind.Cosine, Combination = CombinationMethod.PcGrad } })
            .Fit(model, train);
        model.Save(modelPath, new ModelMetadata(scale, data.Encoding, data.Schema)); // what 'mtl predict' reads
        var metrics = model.Evaluate(test);             // per task: loss, RMSE and MAE in quality points, accuracy
        // ---- end README example ----
        return metrics;
    }

    [Fact]
    public void The_readme_example_reaches_the_wine_targets_and_is_the_readme_code()
    {
        var modelPath = Path.Combine(_dir, "readme.safetensors");
        var metrics = ReadmeExample(BundledPaths.WineQuality, modelPath);
        var quality = metrics.Single(m => m.Task == "quality");
        var color = metrics.Single(m => m.Task == "color");
        Assert.InRange(quality.Rmse!.Value, 0.3, 0.75);   // target ≤ 0.75 (predicting the mean gives ≈ 0.87)
        Assert.InRange(color.Accuracy!.Value, 0.99, 1.0); // target ≥ 99 % (the majority color is 75 %)
        Assert.True(File.Exists(modelPath));

        var code = MarkedCode("---- begin README example", "---- end README example", indent: 8)
            .Replace("(winePath,", "(\"data/wine_quality.csv\",").Replace("(modelPath,", "(\"wine.safetensors\",");
        Assert.Contains(code, File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void The_documented_embedding_example_trains_wine_to_the_targets()
    {
        var modelPath = Path.Combine(_dir, "wine.safetensors");
        var (quality, color, test) = TrainWine(BundledPaths.WineQuality, modelPath);

        // Scored here from the raw test rows, independently of the engine's metrics.
        var truth = ((RegressionTargets)test.Task("quality")).Values;
        double squares = 0;
        for (int i = 0; i < truth.Length; i++) squares += Math.Pow(quality[i] - truth[i], 2);
        var labels = (ClassTargets)test.Task("color");
        int correct = Enumerable.Range(0, labels.RowCount).Count(i => labels.Labels.LabelOf(labels.Classes[i]) == color[i]);

        Assert.InRange(Math.Sqrt(squares / truth.Length), 0, 0.75);          // quality RMSE target (σ of quality ≈ 0.87)
        Assert.InRange((double)correct / labels.RowCount, 0.99, 1.0);         // color accuracy target
        Assert.True(File.Exists(modelPath));
    }

    [Fact]
    public void The_documentation_shows_exactly_this_code()
    {
        var code = MarkedCode("---- begin example", "---- end example", indent: 4);
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "cli.md")).ReplaceLineEndings("\n");
        Assert.Contains(code, doc);
    }

    /// <summary>The lines of this file between two markers, with <paramref name="indent"/> leading spaces removed.</summary>
    private static string MarkedCode(string beginMarker, string endMarker, int indent)
    {
        var source = File.ReadAllLines(Path.Combine(RepositoryRoot(), "Tests", "Experiments", "EmbeddingExampleTests.cs"));
        int begin = Array.FindIndex(source, l => l.Contains(beginMarker)), end = Array.FindIndex(source, l => l.Contains(endMarker));
        Assert.True(begin >= 0 && end > begin, $"markers {beginMarker} … {endMarker} not found");
        return string.Join("\n", source[(begin + 1)..end].Select(l => l.Length >= indent ? l[indent..] : l.Trim()));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "docs", "cli.md")) && Directory.Exists(Path.Combine(dir.FullName, "Tests")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No repository root (docs/cli.md) above {AppContext.BaseDirectory}.");
    }
}
