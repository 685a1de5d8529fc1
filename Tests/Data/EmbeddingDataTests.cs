using System.Globalization;
using System.Text;
using System.Text.Json;
using Engine.Data;
using Engine.Experiments;
using Engine.Tests.Cli;

namespace Engine.Tests.Data;

/// <summary>
/// Embedded categorical columns end to end: the CSV loader writes one index column per embedded input after the one-hot
/// blocks; the vocabulary is fitted on the training split only (a value only the test rows have reads the reserved index,
/// counted, not an error) and is stored with the model (the checkpoint's encoding, as the one-hot vocabularies are); mtl
/// train --embed COL[:DIM] trains, predict and evaluate report the unseen rows on stderr (and in evaluate's JSON) and the
/// prediction CSV writes &lt;unseen&gt; for them; bad --embed values are usage errors naming the flag, an unknown column a
/// data error naming the file and the column.
/// </summary>
public class EmbeddingDataTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>x, city (c0…c11; c11 only on the last row), shade (one-hot), y = x + city effect.</summary>
    private static string Csv(int rows = 96, string lastCity = "c11")
    {
        var text = new StringBuilder("x,city,shade,y\n");
        for (int i = 0; i < rows; i++)
        {
            double x = Math.Round(Math.Sin(i) * 2, 3);
            string city = i == rows - 1 ? lastCity : $"c{i % 11}";
            text.Append(CultureInfo.InvariantCulture, $"{x},{city},{(i % 2 == 0 ? "dark" : "light")},{x + i % 11 * 0.3:R}\n");
        }
        return text.ToString();
    }

    [Fact]
    public void The_loader_writes_an_index_column_after_the_one_hot_blocks()
    {
        var path = _dir.Write("t.csv", Csv(12));
        var schema = TableSchema.Empty.WithNumeric("x").WithCategorical("shade").WithEmbedded("city").WithRegression("y");
        var data = CsvTable.Load(path, schema);
        Assert.Equal(["x", "shade=dark", "shade=light", "city"], data.InputNames);
        var vocabulary = data.Encoding.Categories["city"];
        Assert.Equal(12, vocabulary.Count);                                   // fitted on the file: c0…c10 and c11
        for (int r = 0; r < 12; r++) Assert.Equal(vocabulary.IndexOf(r == 11 ? "c11" : $"c{r % 11}"), data.InputRow(r)[3]);
        Assert.Equal("{\"numericInputs\":[\"x\"],\"categoricalInputs\":[\"shade\"],\"embeddedInputs\":[\"city\"]", schema.ToJson()[..78]);
        Assert.Equal(schema.EmbeddedInputs, TableSchema.FromJson(schema.ToJson()).EmbeddedInputs);
        Assert.Empty(TableSchema.FromJson("{\"numericInputs\":[\"x\"],\"categoricalInputs\":[],\"tasks\":[]}").EmbeddedInputs);   // older files
        var e = Assert.Throws<ArgumentException>(() => TableSchema.Empty.WithCategorical("city").WithEmbedded("city"));
        Assert.Contains("both a categorical input and an embedded input", e.Message);
    }

    [Fact]
    public void The_vocabulary_is_fitted_on_the_training_rows_and_other_values_read_the_reserved_index()
    {
        var path = _dir.Write("t.csv", Csv(12));
        var data = CsvTable.Load(path, TableSchema.Empty.WithNumeric("x").WithEmbedded("city").WithRegression("y"));
        int[] train = [0, 1, 2, 3, 4, 5, 6];                                  // c0…c6
        var fitted = EmbeddingVocabulary.FitOnRows(data, train);
        var vocabulary = fitted.Encoding.Categories["city"];
        Assert.Equal(["c0", "c1", "c2", "c3", "c4", "c5", "c6"], vocabulary.Labels);
        float[] expected = [0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7];              // c7…c10 and c11: the reserved index 7
        Assert.Equal(expected, Enumerable.Range(0, 12).Select(r => fitted.InputRow(r)[1]));
        Assert.Equal([("city", 5)], EmbeddingVocabulary.UnseenCounts(fitted));
        Assert.Contains("embedded column 'city': 5 of 12 rows have a category unseen in training", Assert.Single(EmbeddingVocabulary.DescribeUnseen(fitted)));

        var again = CsvTable.Load(path, fitted.Schema, encoding: fitted.Encoding);    // a later file with the stored encoding
        Assert.Equal(expected, Enumerable.Range(0, 12).Select(r => again.InputRow(r)[1]));
        var plain = CsvTable.Load(path, TableSchema.Empty.WithNumeric("x").WithRegression("y"));
        Assert.Same(plain, EmbeddingVocabulary.FitOnRows(plain, train));      // nothing embedded: unchanged
    }

    [Fact]
    public void Train_predict_and_evaluate_with_an_embedded_column()
    {
        var csv = _dir.Write("train.csv", Csv());
        var model = _dir.File_("m.safetensors");
        var report = _dir.File_("r.json");
        var r = Mtl.Run("train", "--data", csv, "--regression", "y", "--categorical", "shade", "--embed", "city:4", "--epochs", "30",
            "--batch-size", "16", "--test", "0.25", "--save", model, "--report", report);
        Assert.True(r.ExitCode == 0, r.ToString());
        using (var backend = Engine.Kernels.Device.Create("cpu"))
        using (var loaded = MultiTaskModel.Load(model, backend))
        {
            var spec = Assert.Single(loaded.Spec.EmbeddedColumns);
            Assert.Equal(("city", 4), (spec.Column, spec.Dim));
            Assert.Equal(loaded.Metadata!.Encoding!.Categories["city"].Count, spec.Categories);
            Assert.InRange(spec.Categories, 8, 11);                          // the training split's cities (c11 is one row, maybe a test row)
            Assert.Equal([spec.Categories + 1, 4], loaded.Parameters["embeddings.0.weight"].Shape);
        }

        var fresh = _dir.Write("new.csv", "x,city,shade\n0.5,c3,dark\n1.0,atlantis,light\n-0.2,atlantis,dark\n");
        var p = Mtl.Run("predict", "--model", model, "--data", fresh);
        Assert.True(p.ExitCode == 0, p.ToString());
        Assert.Contains("embedded column 'city': 2 of 3 rows have a category unseen in training", p.Error);
        var lines = p.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("x,shade,city,y", lines[0]);
        Assert.StartsWith("0.5,dark,c3,", lines[1]);
        Assert.StartsWith("1,light,<unseen>,", lines[2]);

        var labelled = _dir.Write("labelled.csv", "x,city,shade,y\n0.5,c3,dark,1.4\n1.0,atlantis,light,1\n");
        var evaluation = _dir.File_("e.json");
        var e = Mtl.Run("evaluate", "--model", model, "--data", labelled, "--report", evaluation);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("embedded column 'city': 1 of 2 rows", e.Error);
        var json = JsonDocument.Parse(File.ReadAllText(evaluation)).RootElement;
        Assert.Equal(1, json.GetProperty("unseenCategories").GetProperty("city").GetInt32());
    }

    [Theory]
    [InlineData("city:0", "--embed city:0: expected COL or COL:DIM")]
    [InlineData("city:", "--embed city:: expected COL or COL:DIM")]
    [InlineData("city,city:3", "--embed names column 'city' twice")]
    public void Bad_embed_values_are_usage_errors_naming_the_flag(string value, string message)
    {
        var csv = _dir.Write("train.csv", Csv());
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--embed", value), Engine.Cli.ExitCodes.Usage, message);
    }

    [Fact]
    public void An_embedded_column_the_file_lacks_is_a_data_error_naming_the_file_and_the_column()
    {
        var csv = _dir.Write("train.csv", Csv());
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--embed", "town"), Engine.Cli.ExitCodes.BadInput, "train.csv", "town");
    }

    [Fact]
    public void The_default_dimension_is_fastais_rule()
    {
        Assert.Equal(3, EmbeddingSpec.DefaultDim(2));          // round(1.6·3^0.56) = round(2.97)
        Assert.Equal(278, EmbeddingSpec.DefaultDim(10_000));   // round(1.6·10001^0.56) = round(278.06)
        Assert.Equal(600, EmbeddingSpec.DefaultDim(1_000_000));
    }
}
