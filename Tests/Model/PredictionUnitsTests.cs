using Engine.Data;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Training;

namespace Engine.Tests.Model;

/// <summary>
/// <see cref="MultiTaskModel.Predict"/> returns standardized regression values and says so; raw rows in and original
/// units out is <see cref="MultiTaskModel.PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/>, checked against
/// a hand computation in float64: z = (x − μ)/σ per input column, the standardized prediction ŷ, then ŷ·σ_t + μ_t.
/// </summary>
public class PredictionUnitsTests
{
    private static readonly CpuBackend<float> Cpu = new();

    private static readonly double[] s_inMean = [1, -2, 0.5, 3, 0], s_inStd = [2, 0.5, 1, 4, 0.1];
    private static readonly double[] s_regMean = [10, -3], s_regStd = [5, 0.25];

    private static Standardization Scale() =>
        new(new Standardizer(s_inMean, s_inStd), new Dictionary<string, Standardizer> { ["reg"] = new(s_regMean, s_regStd) });

    /// <summary>Raw rows: x = μ + σ·u with u ~ U(−2, 2), so the standardized inputs are of order one.</summary>
    private static float[] RawRows(int rows)
    {
        var rng = new Random(3);
        var x = new float[rows * 5];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(s_inMean[i % 5] + s_inStd[i % 5] * (4 * rng.NextDouble() - 2));
        return x;
    }

    [Fact]
    public void Original_units_are_the_standardized_prediction_times_sigma_plus_mu()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        const int rows = 7;
        var raw = RawRows(rows);

        // By hand: standardize each input in float64, predict, undo the target scale in float64.
        var z = new float[raw.Length];
        for (int i = 0; i < raw.Length; i++) z[i] = (float)((raw[i] - s_inMean[i % 5]) / s_inStd[i % 5]);
        var standardized = model.Predict(z, rows);
        Assert.Equal(PredictionUnits.Standardized, standardized.Units);
        Assert.Equal(PredictionUnits.Standardized, standardized["reg"].Units);
        var zReg = standardized["reg"].Values;

        var original = model.PredictOriginalUnits(raw, rows, Scale());
        Assert.Equal(PredictionUnits.Original, original.Units);
        Assert.Equal(PredictionUnits.Original, original["reg"].Units);
        var reg = original["reg"].Values;
        Assert.Equal(rows * 2, reg.Length);
        for (int i = 0; i < reg.Length; i++)
        {
            double expected = zReg[i] * s_regStd[i % 2] + s_regMean[i % 2];
            Assert.True(Math.Abs(reg[i] - expected) <= 1e-6 * Math.Max(1, Math.Abs(expected)),
                $"reg[{i}] = {reg[i]:G9}, by hand {expected:G9} (ŷ = {zReg[i]:G9})");
        }
        // The scale really moved the values (σ ≠ 1, μ ≠ 0): original and standardized differ.
        Assert.True(Math.Abs(reg[0] - zReg[0]) > 1);

        // Classification is unit-free: the same logits, probabilities and classes.
        Assert.Equal(standardized["cls"].Values, original["cls"].Values);
        Assert.Equal(standardized["cls"].Probabilities, original["cls"].Probabilities);
        Assert.Equal(standardized["cls"].Classes, original["cls"].Classes);
    }

    [Fact]
    public void The_scale_defaults_to_the_one_saved_with_the_model()
    {
        using var dir = new TempDirectory();
        var path = dir.File_("m.safetensors");
        using (var model = MultiTaskModel.Create(Problems.Spec(), Cpu))
        {
            var error = Assert.Throws<InvalidOperationException>(() => model.PredictOriginalUnits(RawRows(2), 2));
            Assert.Contains("standardization", error.Message, StringComparison.Ordinal);
            model.Save(path, new ModelMetadata(Scale()));
        }
        using var loaded = MultiTaskModel.Load(path, Cpu);
        var raw = RawRows(4);
        Assert.Equal(loaded.PredictOriginalUnits(raw, 4, Scale())["reg"].Values, loaded.PredictOriginalUnits(raw, 4)["reg"].Values);
    }

    [Fact]
    public void A_raw_value_out_of_range_names_its_row_and_column()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var raw = RawRows(3);
        raw[1 * 5 + 3] = 3e38f;      // row 1, column 3: (3e38 − 3)/4 standard deviations from the mean
        var error = Assert.Throws<ArgumentException>(() => model.PredictOriginalUnits(raw, 3, Scale()));
        Assert.Contains("rawInputs[row 1, column 3]", error.Message, StringComparison.Ordinal);
        raw[1 * 5 + 3] = float.NaN;
        Assert.Contains("rawInputs[row 1, column 3]", Assert.Throws<ArgumentException>(() => model.PredictOriginalUnits(raw, 3, Scale())).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => model.PredictOriginalUnits(raw.AsSpan(1), 3, Scale()));   // wrong length
    }

    [Fact]
    public void A_raw_csv_dataset_predicts_in_original_units_and_names_the_line_of_a_bad_value()
    {
        using var dir = new TempDirectory();
        var schema = TableSchema.Empty.WithNumeric("a", "b", "c", "d", "e");
        var csv = dir.Write("new.csv", "a,b,c,d,e\n1,-2,0.5,3,0\n3,-1.5,1.5,7,0.1\n");
        var data = CsvTable.Load(csv, schema);
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var fromDataset = model.PredictOriginalUnits(data, Scale());
        Assert.Equal(PredictionUnits.Original, fromDataset.Units);
        Assert.Equal(model.PredictOriginalUnits(data.Inputs, 2, Scale())["reg"].Values, fromDataset["reg"].Values);

        // Row 1 of the file is the mean itself: z = 0, so its prediction is the model's output at the origin, mapped back.
        var atOrigin = model.Predict(new float[5], 1)["reg"].Values;
        for (int j = 0; j < 2; j++)
            Assert.Equal(atOrigin[j] * s_regStd[j] + s_regMean[j], fromDataset["reg"].Values[j], 1e-5);

        var bad = CsvTable.Load(dir.Write("bad.csv", "a,b,c,d,e\n1,-2,0.5,3,0\n1,-2,0.5,3e38,0\n"), schema);
        var error = Assert.Throws<DataFileException>(() => model.PredictOriginalUnits(bad, Scale()));
        Assert.Equal(3, error.Line);
        Assert.Equal("d", error.Column);
    }
}
