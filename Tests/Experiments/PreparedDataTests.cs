using Engine.Data;
using Engine.Experiments;

namespace Engine.Tests.Experiments;

/// <summary>The split is seeded and the standardization sees the training rows only.</summary>
public class PreparedDataTests
{
    /// <summary>40 rows whose input and target grow quadratically with the row index, so the mean of any
    /// proper subset of rows differs from the mean of all rows.</summary>
    private static Dataset Quadratic()
    {
        const int rows = 40;
        var x = new float[rows];
        var y = new float[rows];
        for (int i = 0; i < rows; i++) { x[i] = i * i; y[i] = 3 * i * i + 1; }
        var schema = TableSchema.Empty.WithNumeric("x").WithRegression("y");
        return new Dataset("quadratic", schema, DataEncoding.Empty, ["x"], x, [new RegressionTargets("y", ["y"], y)],
            Enumerable.Range(2, rows).ToArray());
    }

    private static (double Mean, double Std) Moments(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Select(a => (a - mean) * (a - mean)).Average()));
    }

    [Fact]
    public void Standardization_is_fitted_on_the_training_rows_only()
    {
        var data = Quadratic();
        var prepared = PreparedData.From(data, validationFraction: 0.25, testFraction: 0.25, seed: 7);

        // μ, σ recomputed here from the training rows (float64, population σ).
        var (meanX, stdX) = Moments(prepared.Split.Train.Select(r => (double)data.Inputs[r]));
        var (meanY, stdY) = Moments(prepared.Split.Train.Select(r => (double)((RegressionTargets)data.Tasks[0]).Values[r]));
        Assert.Equal(meanX, prepared.Standardization.Inputs.Mean[0], 9);
        Assert.Equal(stdX, prepared.Standardization.Inputs.Std[0], 9);
        Assert.Equal(meanY, prepared.Standardization.Target("y").Mean[0], 9);
        Assert.Equal(stdY, prepared.Standardization.Target("y").Std[0], 9);

        // Fitted on all rows it would be different: this test fails if the held-out rows leak in.
        var (allMeanX, _) = Moments(data.Inputs.Select(v => (double)v));
        Assert.True(Math.Abs(allMeanX - prepared.Standardization.Inputs.Mean[0]) > 1, $"train mean {meanX} vs all-rows mean {allMeanX}");

        // The standardized training split has mean 0 and σ 1; the held-out splits are transformed with the same μ, σ.
        var (zMean, zStd) = Moments(prepared.Train.Inputs.Select(v => (double)v));
        Assert.Equal(0, zMean, 5);
        Assert.Equal(1, zStd, 5);
        for (int i = 0; i < prepared.Test.RowCount; i++)
            Assert.Equal((prepared.RawTest.Inputs[i] - meanX) / stdX, prepared.Test.Inputs[i], 4);
    }

    [Fact]
    public void The_split_is_a_seeded_partition_with_the_asked_sizes()
    {
        var data = Quadratic();
        var a = PreparedData.From(data, 0.25, 0.25, seed: 7);
        var b = PreparedData.From(data, 0.25, 0.25, seed: 7);
        var c = PreparedData.From(data, 0.25, 0.25, seed: 8);
        Assert.Equal((20, 10, 10), (a.Split.Train.Length, a.Split.Validation.Length, a.Split.Test.Length));
        Assert.Equal(Enumerable.Range(0, 40), a.Split.Train.Concat(a.Split.Validation).Concat(a.Split.Test).Order());
        Assert.Equal(a.Split.Test, b.Split.Test);
        Assert.NotEqual(a.Split.Test, c.Split.Test);
        // The raw splits are the rows the split names, untouched.
        for (int i = 0; i < a.Split.Test.Length; i++) Assert.Equal(data.Inputs[a.Split.Test[i]], a.RawTest.Inputs[i]);
    }

    [Fact]
    public void A_single_task_view_keeps_the_rows_and_the_scaling()
    {
        var data = CsvTable.Load(BundledPaths.EnergyEfficiency, BundledDatasets.EnergyEfficiency);
        var prepared = PreparedData.From(data, 0.1, 0.2, seed: 3);
        var single = prepared.WithOnlyTask("cooling_load");
        Assert.Equal(["cooling_load"], single.Train.Tasks.Select(t => t.Name));
        Assert.Equal(prepared.Train.Inputs, single.Train.Inputs);
        Assert.Equal(((RegressionTargets)prepared.Test.Task("cooling_load")).Values, ((RegressionTargets)single.Test.Tasks[0]).Values);
        Assert.Same(prepared.Standardization, single.Standardization);
    }

    [Fact]
    public void Without_flags_the_bundled_energy_data_and_schema_are_used()
    {
        var (path, schema) = PreparedData.ResolveSource(new ExperimentSettings());
        Assert.Equal(BundledDatasets.EnergyEfficiencyFile, Path.GetFileName(path));
        Assert.Same(BundledDatasets.EnergyEfficiency, schema);
    }

    [Fact]
    public void Named_targets_make_every_other_column_an_input_in_header_order()
    {
        var (_, schema) = PreparedData.ResolveSource(new ExperimentSettings
        {
            DataPath = BundledPaths.WineQuality, Regression = ["quality"], Classification = ["color"],
        });
        Assert.Equal(BundledDatasets.WineQuality.NumericInputs, schema.NumericInputs);
        Assert.Equal(["quality", "color"], schema.Tasks.Select(t => t.Name));
        Assert.Equal([TaskKind.Regression, TaskKind.Classification], schema.Tasks.Select(t => t.Kind));
    }
}

/// <summary>The bundled CSV files copied beside the test executable.</summary>
internal static class BundledPaths
{
    public static string EnergyEfficiency => Path.Combine(AppContext.BaseDirectory, "data", BundledDatasets.EnergyEfficiencyFile);
    public static string WineQuality => Path.Combine(AppContext.BaseDirectory, "data", BundledDatasets.WineQualityFile);
}
