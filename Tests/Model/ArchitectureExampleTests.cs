using Engine.Data;
using Engine.Kernels;
using Engine.Training;
using Engine.Tests.Experiments;

namespace Engine.Tests.Model;

/// <summary>README.md's library example of a mixture of experts, compiled and run here (the marked lines are the README's,
/// there with the literal path "data/energy_efficiency.csv").</summary>
public class ArchitectureExampleTests
{
    static IReadOnlyList<Engine.Metrics.TaskMetrics> MmoeExample(string energyPath)
    {
        // ---- begin README MMoE example ----
        var data  = CsvTable.Load(energyPath, BundledDatasets.EnergyEfficiency);    // heating_load, cooling_load
        var split = DataSplit.Shuffled(data.RowCount, trainFraction: 0.8, validationFraction: 0, seed: 42);
        var scale = Standardization.Fit(data, split.Train);
        var train = TrainingData.FromDataset(scale.Apply(data.Select(split.Train)), scale);
        var test  = TrainingData.FromDataset(scale.Apply(data.Select(split.Test)), scale);

        using var backend = Device.Create("cpu");
        var spec = new ModelSpec(data.InputCount, [32, 16],                             // each expert: 32 → 16
            [TaskHead.Regression("heating_load"), TaskHead.Regression("cooling_load")])
            { Architecture = new MmoeArchitecture(Experts: 4), Tower = [8], Seed = 42 }; // or OmoeArchitecture, CgcArchitecture, PleArchitecture …
        using var model = MultiTaskModel.Create(spec, backend);
        new Trainer(new TrainerOptions { Epochs = 60, BatchSize = 32, Seed = 42,
            Step = new StepOptions { LearningRate = 0.01, Schedule = ScheduleKind.Cosine } }).Fit(model, train);
        var metrics = model.Evaluate(test);                                             // RMSE, MAE in kWh/m²
        // ---- end README MMoE example ----
        return metrics;
    }

    [Fact]
    public void The_readme_mmoe_example_learns_both_loads_and_is_the_readme_code()
    {
        var metrics = MmoeExample(BundledPaths.EnergyEfficiency);
        // σ of heating load ≈ 10.1 and of cooling load ≈ 9.5 kWh/m² (predicting the mean); the example gets well below.
        Assert.InRange(metrics.Single(m => m.Task == "heating_load").Rmse!.Value, 0, 3.0);
        Assert.InRange(metrics.Single(m => m.Task == "cooling_load").Rmse!.Value, 0, 3.5);

        var source = File.ReadAllLines(Path.Combine(Root(), "Tests", "Model", "ArchitectureExampleTests.cs"));
        int begin = Array.FindIndex(source, l => l.Contains("---- begin README MMoE example")), end = Array.FindIndex(source, l => l.Contains("---- end README MMoE example"));
        var code = string.Join("\n", source[(begin + 1)..end].Select(l => l.Length >= 8 ? l[8..] : l.Trim()))
            .Replace("(energyPath,", "(\"data/energy_efficiency.csv\",");
        Assert.Contains(code, File.ReadAllText(Path.Combine(Root(), "README.md")).ReplaceLineEndings("\n"));
    }

    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "README.md")) && Directory.Exists(Path.Combine(dir.FullName, "Tests")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No repository root above {AppContext.BaseDirectory}.");
    }
}
