using System.Globalization;
using System.Text;
using Engine.Data;
using Engine.Experiments;
using Engine.Export;
using Engine.Kernels.Cpu;
using Engine.Tests.Cli;

namespace Engine.Tests.Data;

/// <summary>
/// Missing input cells (maths §19.12, <see cref="MissingInputs"/>, <see cref="InputImputation"/>): the default keeps the load
/// error naming file, row and column; <c>mean</c> fills a numeric cell with its column's mean over the training rows only
/// (hand-computed here, with validation rows whose values would move it); <c>mean-indicator</c> adds 0/1 columns for the
/// columns with a missing training cell; the fitted state survives save → load and predicts the same; an embedded cell
/// reads the reserved row, a one-hot cell is refused, a column missing on every training row is refused by name; and
/// <c>mtl train --missing-inputs</c> trains, saves and predicts.
/// </summary>
public sealed class MissingInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly TableSchema Schema = TableSchema.Empty.WithNumeric("x", "z").WithRegression("y");

    // Rows 0–3 train, 4–5 "validation". Training means: x = (1 + 3 + 5)/3 = 3, z = (2 + 4 + 6 + 8)/4 = 5.
    // Over every row they would be x = (1 + 3 + 5 + 100)/4 = 27.25 and z = (2 + 4 + 6 + 8 + 200)/5 = 44.
    private const string Table = "x,z,y\n1,2,10\nNA,4,11\n3,6,12\n5,8,13\n100,?,14\n,200,15\n";
    private static readonly int[] TrainRows = [0, 1, 2, 3];

    private Dataset Load(string text, MissingInputs policy, TableSchema? schema = null) =>
        CsvTable.Load(_dir.Write("t.csv", text), schema ?? Schema, missingInputs: policy);

    [Fact]
    public void The_default_policy_keeps_a_missing_input_a_load_error_naming_file_row_and_column()
    {
        var path = _dir.Write("t.csv", Table);
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(path, Schema));
        Assert.Equal(path, error.FilePath);
        Assert.Equal(3, error.Line);                  // header = line 1; "NA" is on the second data row
        Assert.Equal("x", error.Column);
        Assert.Contains($"{path}, row 3, column 'x': missing value ('NA')", error.Message);
        Assert.Contains("--missing-inputs mean", error.Message);   // and what would fill it
        Assert.Throws<DataFileException>(() => CsvTable.Load(path, Schema, missingInputs: MissingInputs.Error));
    }

    [Fact]
    public void A_missing_numeric_input_loads_as_NaN_when_a_policy_allows_it()
    {
        var data = Load(Table, MissingInputs.Mean);
        Assert.Equal(["x", "z"], data.InputNames);
        Assert.True(float.IsNaN(data.InputRow(1)[0]) && float.IsNaN(data.InputRow(4)[1]) && float.IsNaN(data.InputRow(5)[0]));
        Assert.Equal(9, data.Inputs.Count(v => !float.IsNaN(v)));
    }

    [Fact]
    public void Mean_imputation_uses_the_training_rows_only()
    {
        var scale = Standardization.Fit(Load(Table, MissingInputs.Mean), TrainRows, MissingInputs.Mean);
        var imputation = scale.Imputation!;
        Assert.Equal(MissingInputs.Mean, imputation.Policy);
        Assert.Equal(["x", "z"], imputation.Columns);
        Assert.Equal([3.0, 5.0], imputation.Means);   // not 27.25 and 44: the validation rows are never read
        Assert.Empty(imputation.Indicators);
        Assert.Equal(2, scale.RawInputCount);

        var imputed = scale.Impute(Load(Table, MissingInputs.Mean));
        Assert.Equal(new float[] { 1, 2, 3, 4, 3, 6, 5, 8, 100, 5, 3, 200 }, imputed.Inputs);
        // Then standardized on the imputed training values: x = 1, 3, 3, 5 → μ 3, σ √2; z = 2, 4, 6, 8 → μ 5, σ √5.
        Assert.Equal(3.0, scale.Inputs.Mean[0], 12);
        Assert.Equal(Math.Sqrt(2), scale.Inputs.Std[0], 12);
        Assert.Equal(5.0, scale.Inputs.Mean[1], 12);
        Assert.Equal(Math.Sqrt(5), scale.Inputs.Std[1], 12);
        var z = scale.StandardizeInputs(Load(Table, MissingInputs.Mean));
        Assert.Equal(0f, z[1 * 2 + 0]);               // an imputed cell standardizes to 0
        Assert.Equal((float)((100 - 3) / Math.Sqrt(2)), z[4 * 2 + 0]);
        Assert.Equal(0f, z[4 * 2 + 1]);
    }

    [Fact]
    public void Mean_indicator_adds_a_zero_one_column_for_each_column_missing_in_training()
    {
        var scale = Standardization.Fit(Load(Table, MissingInputs.MeanIndicator), TrainRows, MissingInputs.MeanIndicator);
        var imputation = scale.Imputation!;
        Assert.Equal(["x"], imputation.Indicators);   // z is complete on the training rows: no indicator, though row 4 lacks it
        Assert.Equal(2, scale.RawInputCount);
        Assert.Equal(3, scale.Inputs.Width);

        var imputed = scale.Impute(Load(Table, MissingInputs.MeanIndicator));
        Assert.Equal(["x", "z", "x_missing"], imputed.InputNames);   // the indicators follow the numeric inputs
        Assert.Equal(new float[]
        {
            1, 2, 0,
            3, 4, 1,
            3, 6, 0,
            5, 8, 0,
            100, 5, 0,
            3, 200, 1,
        }, imputed.Inputs);
        Assert.Equal(0.0, scale.Inputs.Mean[2]);      // the indicator passes through the standardization
        Assert.Equal(1.0, scale.Inputs.Std[2]);
        Assert.Equal(imputed.Inputs.Where((_, i) => i % 3 == 2), scale.StandardizeInputs(imputed).Where((_, i) => i % 3 == 2));
    }

    [Fact]
    public void The_prepared_split_fits_the_means_on_its_training_rows()
    {
        var text = new StringBuilder("x,z,y\n");
        for (int i = 0; i < 40; i++)
            text.Append(CultureInfo.InvariantCulture, $"{(i % 5 == 0 ? "" : (i * i % 17).ToString(CultureInfo.InvariantCulture))},{i},{i % 7}\n");
        var raw = Load(text.ToString(), MissingInputs.Mean);
        var data = PreparedData.From(raw, 0.25, 0.25, seed: 3, MissingInputs.Mean);
        double sum = 0, all = 0;
        int n = 0, allN = 0;
        for (int r = 0; r < raw.RowCount; r++)
        {
            float x = raw.InputRow(r)[0];
            if (float.IsNaN(x)) continue;
            all += x; allN++;
            if (data.Split.Train.Contains(r)) { sum += x; n++; }
        }
        double mean = sum / n;
        Assert.Equal(mean, data.Standardization.Imputation!.Means[0], 15);
        Assert.NotEqual(all / allN, mean, 6);          // the whole file's mean is another number
        foreach (var part in new[] { data.All, data.RawTrain, data.RawValidation, data.RawTest })
            Assert.DoesNotContain(part.Inputs, float.IsNaN);
        for (int r = 0; r < raw.RowCount; r++)         // every split's missing cells hold the training mean
            if (float.IsNaN(raw.InputRow(r)[0])) Assert.Equal((float)mean, data.All.InputRow(r)[0]);
    }

    [Fact]
    public void A_column_missing_on_every_training_row_is_refused_by_name()
    {
        var data = Load("x,z,y\n1,,10\n2,NA,11\n3,?,12\n4,7,13\n", MissingInputs.Mean);
        foreach (var policy in new[] { MissingInputs.Mean, MissingInputs.MeanIndicator })
        {
            var error = Assert.Throws<DataFileException>(() => Standardization.Fit(data, [0, 1, 2], policy));
            Assert.Equal("z", error.Column);
            Assert.Contains("column 'z': the column is missing on all 3 training rows, so its training mean is undefined", error.Message);
        }
        Assert.Equal(7.0, Standardization.Fit(data, [3], MissingInputs.Mean).Imputation!.Means[1]);
    }

    [Fact]
    public void An_embedded_cell_reads_the_reserved_row_and_a_one_hot_cell_is_refused()
    {
        var embedded = TableSchema.Empty.WithNumeric("x").WithEmbedded("city").WithRegression("y");
        var data = Load("x,city,y\n1,rome,1\n2,,2\n3,oslo,3\n4,NA,4\n", MissingInputs.Mean, embedded);
        Assert.Equal(["oslo", "rome"], data.Encoding.Categories["city"].Labels);   // the missing cells are not a category
        Assert.Equal(new float[] { 1, 2, 0, 2 }, Enumerable.Range(0, 4).Select(r => data.InputRow(r)[1]));   // reserved index 2
        Assert.Throws<DataFileException>(() => Load("x,city,y\n1,rome,1\n2,,2\n", MissingInputs.Error, embedded));

        var oneHot = TableSchema.Empty.WithNumeric("x").WithCategorical("shade").WithRegression("y");
        var error = Assert.Throws<DataFileException>(() => Load("x,shade,y\n1,dark,1\n2,?,2\n", MissingInputs.MeanIndicator, oneHot));
        Assert.Equal((3L, "shade"), (error.Line, error.Column));
        Assert.Contains("one-hot categorical input", error.Message);
        Assert.Contains("--embed shade", error.Message);
    }

    [Fact]
    public void The_fitted_imputation_round_trips_through_json_and_is_absent_without_a_policy()
    {
        var scale = Standardization.Fit(Load(Table, MissingInputs.MeanIndicator), TrainRows, MissingInputs.MeanIndicator);
        var back = Standardization.FromJson(scale.ToJson());
        Assert.Equal(scale.ToJson(), back.ToJson());
        Assert.Equal(MissingInputs.MeanIndicator, back.Imputation!.Policy);
        Assert.Equal(scale.Imputation!.Means, back.Imputation.Means);
        Assert.Equal(["x"], back.Imputation.Indicators);

        var plain = Standardization.Fit(CsvTable.Load(_dir.Write("full.csv", "x,z,y\n1,2,3\n4,5,6\n"), Schema));
        Assert.Null(plain.Imputation);
        Assert.DoesNotContain("missingInputs", plain.ToJson());
        Assert.Null(Standardization.FromJson(plain.ToJson()).Imputation);
        // A file read with a policy, standardized by one fitted without: the missing cell is named, not standardized to NaN.
        var holes = CsvTable.Load(_dir.Write("holes.csv", "x,z,y\n1,,3\n"), Schema, missingInputs: MissingInputs.Mean);
        var error = Assert.Throws<DataFileException>(() => plain.StandardizeInputs(holes));
        Assert.Equal((2L, "z"), (error.Line, error.Column));
        Assert.Contains("no imputation", error.Message);
    }

    /// <summary>A table with x1 missing in about 1 row in 6 and x2 complete: y = 2·x1 − x2 (x1 missing: y = −x2 + 1).</summary>
    private static string TrainingCsv(int rows = 90)
    {
        var random = new Random(7);
        var text = new StringBuilder("x1,x2,city,y\n");
        for (int i = 0; i < rows; i++)
        {
            double x1 = Math.Round(random.NextDouble() * 4 - 2, 3), x2 = Math.Round(random.NextDouble() * 4 - 2, 3);
            bool missing = i % 6 == 1;
            string city = i % 9 == 4 ? "" : i % 2 == 0 ? "rome" : "oslo";
            double y = (missing ? 1 : 2 * x1) - x2;
            text.Append(CultureInfo.InvariantCulture, $"{(missing ? "NA" : x1.ToString("R", CultureInfo.InvariantCulture))},{x2},{city},{y:R}\n");
        }
        return text.ToString();
    }

    [Fact]
    public void A_saved_model_predicts_rows_with_missing_cells_as_the_model_in_memory_does()
    {
        var csv = _dir.Write("train.csv", TrainingCsv());
        var settings = new ExperimentSettings
        {
            DataPath = csv, Regression = ["y"], Embed = [new EmbedColumn("city", 2)], MissingInputs = MissingInputs.MeanIndicator,
            Epochs = 3, Hidden = [8], TestFraction = 0.2,
        };
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(settings, backend, cancellation: TestContext.Current.CancellationToken);
        var scale = outcome.Data.Standardization;
        Assert.Equal(["x1"], scale.Imputation!.Indicators);
        Assert.Equal(["x1", "x2", "x1_missing", "city"], outcome.Data.All.InputNames);
        Assert.Equal(4, outcome.Model.Spec.Inputs);
        var path = _dir.File_("model.safetensors");
        Experiment.SaveModel(outcome.Model, outcome.Data, settings, path);

        using var loaded = MultiTaskModel.Load(path, backend);
        var stored = loaded.Metadata!.Standardization!;
        Assert.Equal(scale.ToJson(), stored.ToJson());
        // x1 missing (an indicator column), x2 missing (complete in training: its mean, no new column), city missing and unseen.
        var rows = _dir.Write("new.csv", "x1,x2,city\n,1.5,rome\n0.5,NA,oslo\n?,?,\n-1,0.25,paris\n");
        var raw = CsvTable.Load(rows, loaded.Metadata.Schema!.InputsOnly(), encoding: loaded.Metadata.Encoding, missingInputs: stored.Imputation!.Policy);
        Assert.Equal(3, raw.InputCount);

        var fromFile = loaded.PredictOriginalUnits(raw)["y"].Values;
        var inMemory = outcome.Model.PredictOriginalUnits(raw, scale)["y"].Values;
        Assert.Equal(inMemory, fromFile);
        Assert.Equal(inMemory, outcome.Model.PredictOriginalUnits(raw.Inputs, raw.RowCount, scale)["y"].Values);

        // The same numbers by hand: impute with the raw training means, add the indicator, then z = (x − μ)/σ.
        float m1 = (float)scale.Imputation.Means[0], m2 = (float)scale.Imputation.Means[1];   // a cell holds the float32 mean
        float[][] imputed = [[m1, 1.5f, 1, 1], [0.5f, m2, 0, 0], [m1, m2, 1, 2], [-1, 0.25f, 0, 2]]; // city: oslo 0, rome 1, reserved 2
        var z = new float[16];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 4; j++) z[r * 4 + j] = (float)((imputed[r][j] - scale.Inputs.Mean[j]) / scale.Inputs.Std[j]);
        var byHand = loaded.Predict(z, 4)["y"].Values.ToArray();
        scale.InverseTargets("y", byHand);
        Assert.Equal(byHand, fromFile);

        var onnx = Assert.Throws<NotSupportedException>(() => loaded.ToOnnx(new OnnxExportOptions { Standardization = stored }));
        Assert.Contains("--missing-inputs mean-indicator", onnx.Message);
    }

    [Fact]
    public void Mtl_train_with_missing_inputs_trains_saves_predicts_and_evaluates()
    {
        var csv = _dir.Write("train.csv", TrainingCsv());
        var model = _dir.File_("model.safetensors");
        string[] flags = ["train", "--data", csv, "--regression", "y", "--embed", "city", "--epochs", "3", "--hidden", "8", "--device", "cpu"];

        var refused = Mtl.Run(flags);
        Mtl.AssertFails(refused, 1, csv, "row ", "column '", "missing value");   // the default policy: error
        var unknown = Mtl.Run([.. flags, "--missing-inputs", "median"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("median", unknown.Error);

        var trained = Mtl.Run([.. flags, "--missing-inputs", "mean-indicator", "--save", model]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var inputs = _dir.Write("new.csv", "x1,x2,city\n,1,rome\n1,,oslo\n");
        var predicted = Mtl.Run("predict", "--model", model, "--data", inputs, "--device", "cpu");
        Assert.True(predicted.ExitCode == 0, predicted.ToString());
        var lines = predicted.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x1,x2,city,y", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.True(double.IsFinite(double.Parse(lines[1].Split(',')[^1], CultureInfo.InvariantCulture)), lines[1]);

        var evaluated = Mtl.Run("evaluate", "--model", model, "--data", csv, "--device", "cpu", "--report", "-");
        Assert.True(evaluated.ExitCode == 0, evaluated.ToString());
        Assert.Contains("\"rows\":90", evaluated.Output.Replace(" ", ""), StringComparison.OrdinalIgnoreCase);
    }
}
