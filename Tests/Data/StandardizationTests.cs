using Engine.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Data;

/// <summary>Standardization: float64 statistics of the training rows only, applied to every split,
/// invertible, zero-variance guarded, exact JSON round trip.</summary>
public class StandardizationTests
{
    /// <summary>Reference μ and population σ of column j over the given rows, naive float64.</summary>
    private static (double Mean, double Std) Reference(float[] values, int width, int j, int[] rows)
    {
        double mean = rows.Sum(r => (double)values[r * width + j]) / rows.Length;
        double variance = rows.Sum(r => Math.Pow(values[r * width + j] - mean, 2)) / rows.Length;
        return (mean, Math.Sqrt(variance));
    }

    [Fact]
    public void Fitted_on_the_training_rows_only_matches_the_float64_formula()
    {
        var data = CsvTable.Load(BundledFiles.EnergyEfficiency, BundledDatasets.EnergyEfficiency);
        var split = DataSplit.Shuffled(data.RowCount, 0.8, 0.0, seed: 3);
        var s = Standardization.Fit(data, split.Train);

        var all = Enumerable.Range(0, data.RowCount).ToArray();
        bool differsFromAllRows = false;
        for (int j = 0; j < data.InputCount; j++)
        {
            var (mean, std) = Reference(data.Inputs, data.InputCount, j, split.Train);
            Assert.Equal(mean, s.Inputs.Mean[j], 1e-12);
            Assert.Equal(std, s.Inputs.Std[j], 1e-12);
            differsFromAllRows |= Math.Abs(Reference(data.Inputs, data.InputCount, j, all).Mean - mean) > 1e-9;
        }
        Assert.True(differsFromAllRows, "train-only statistics should differ from whole-file statistics");
        var heating = (RegressionTargets)data.Task("heating_load");
        var (hm, hs) = Reference(heating.Values, 1, 0, split.Train);
        Assert.Equal(hm, s.Target("heating_load").Mean[0], 1e-12);
        Assert.Equal(hs, s.Target("heating_load").Std[0], 1e-12);
    }

    [Fact]
    public void Applied_training_split_has_zero_mean_unit_std_and_other_rows_use_training_statistics()
    {
        var data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQualityRegression);
        var split = DataSplit.Shuffled(data.RowCount, 0.8, 0.1, seed: 11);
        var s = Standardization.Fit(data, split.Train);
        var train = s.Apply(data.Select(split.Train));
        var test = s.Apply(data.Select(split.Test));
        var trainRows = Enumerable.Range(0, train.RowCount).ToArray();
        for (int j = 0; j < train.InputCount; j++)
        {
            var (mean, std) = Reference(train.Inputs, train.InputCount, j, trainRows);
            Assert.Equal(0, mean, 1e-5);
            Assert.Equal(1, std, 1e-5);
        }
        // A test row is standardized with the training μ, σ: z = (x − μ)/σ.
        var raw = data.Select(split.Test);
        for (int j = 0; j < raw.InputCount; j++)
        {
            double expected = (raw.Inputs[j] - s.Inputs.Mean[j]) / s.Inputs.Std[j];
            Assert.Equal(expected, test.Inputs[j], 1e-5);
        }
        // Classification targets are untouched; regression targets standardized.
        Assert.Equal(((ClassTargets)raw.Task("color")).Classes, ((ClassTargets)test.Task("color")).Classes);
        var q = ((RegressionTargets)test.Task("quality")).Values;
        Assert.Equal((((RegressionTargets)raw.Task("quality")).Values[0] - s.Target("quality").Mean[0]) / s.Target("quality").Std[0], q[0], 1e-5);
        // The original dataset is not modified.
        Assert.Equal(7.4f, data.Inputs[0]);
    }

    [Fact]
    public void Inverse_transform_recovers_the_values()
    {
        var values = Tolerance.Random(7 * 3, seed: 5, lo: -50, hi: 200).Select(v => (float)v).ToArray();
        var s = Standardizer.Fit(values, 3);
        var copy = (float[])values.Clone();
        s.Transform(copy);
        s.InverseTransform(copy);
        Tolerance.AllClose(values.Select(v => (double)v).ToArray(), copy, rtol: 1e-6, atol: 1e-5, "round trip");
    }

    [Fact]
    public void Zero_variance_column_gets_unit_scale_and_maps_to_zero()
    {
        float[] values = [5, 1, 5, 2, 5, 3];
        var s = Standardizer.Fit(values, 2);
        Assert.Equal(5, s.Mean[0]);
        Assert.Equal(1, s.Std[0]);
        s.Transform(values);
        Assert.Equal([0f, 0f, 0f], new[] { values[0], values[2], values[4] });
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void One_hot_slots_pass_through()
    {
        using var dir = new TempDirectory();
        var data = CsvTable.Load(dir.Write("c.csv", "x,c\n1,a\n3,b\n5,a\n"), TableSchema.Empty.WithNumeric("x").WithCategorical("c"));
        var s = Standardization.Fit(data);
        Assert.Equal([3.0, 0, 0], s.Inputs.Mean);
        Assert.Equal(1, s.Inputs.Std[1]);
        var z = s.Apply(data);
        Assert.Equal([1f, 0f, 0f, 1f, 1f, 0f], new[] { z.Inputs[1], z.Inputs[2], z.Inputs[4], z.Inputs[5], z.Inputs[7], z.Inputs[8] });
    }

    [Fact]
    public void Json_round_trip_is_exact()
    {
        var data = CsvTable.Load(BundledFiles.EnergyEfficiency, BundledDatasets.EnergyEfficiency);
        var s = Standardization.Fit(data, DataSplit.Shuffled(data.RowCount, 0.8, 0, 1).Train);
        var back = Standardization.FromJson(s.ToJson());
        Assert.Equal(s.Inputs.Mean, back.Inputs.Mean); // bit-exact doubles
        Assert.Equal(s.Inputs.Std, back.Inputs.Std);
        Assert.Equal(s.Targets.Keys.Order(), back.Targets.Keys.Order());
        Assert.Equal(s.Target("cooling_load").Mean, back.Target("cooling_load").Mean);
        Assert.Equal(s.Target("cooling_load").Std, back.Target("cooling_load").Std);
    }

    [Fact]
    public void Wrong_width_is_rejected()
    {
        var s = Standardizer.Identity(3);
        Assert.Throws<ArgumentException>(() => s.Transform(new float[4]));
        Assert.Throws<ArgumentException>(() => new Standardizer([0.0], [0.0]));
        Assert.Throws<ArgumentException>(() => Standardizer.Fit(new float[6], 3, ReadOnlySpan<int>.Empty));
    }
}
