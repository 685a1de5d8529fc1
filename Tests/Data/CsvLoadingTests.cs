using System.Globalization;
using Engine.Data;

namespace Engine.Tests.Data;

/// <summary>Loading CSV files into datasets: the bundled datasets checked value by value against an
/// independent naive reading of the file, separators, quoting, one-hot encoding, label maps.</summary>
public class CsvLoadingTests
{
    /// <summary>Independent reference: the bundled files have no quotes, so split lines on ','.</summary>
    private static (string[] Header, string[][] Rows) NaiveRead(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        return (lines[0].Split(','), lines[1..].Select(l => l.Split(',')).ToArray());
    }

    private static float F(string s) => float.Parse(s, CultureInfo.InvariantCulture);

    [Fact]
    public void Energy_efficiency_loads_every_value_as_the_file_has_it()
    {
        var data = CsvTable.Load(BundledFiles.EnergyEfficiency, BundledDatasets.EnergyEfficiency);
        var (header, rows) = NaiveRead(BundledFiles.EnergyEfficiency);

        Assert.Equal(768, data.RowCount);
        Assert.Equal(768, rows.Length);
        Assert.Equal(8, data.InputCount);
        Assert.Equal(header[..8], data.InputNames);
        Assert.Equal(["heating_load", "cooling_load"], data.Tasks.Select(t => t.Name));
        // First row, written out: 0.98,514.50,294.00,110.25,7.00,2,0.00,0,15.55,21.33
        Assert.Equal([0.98f, 514.5f, 294f, 110.25f, 7f, 2f, 0f, 0f], data.InputRow(0).ToArray());
        Assert.Equal(15.55f, ((RegressionTargets)data.Task("heating_load")).Values[0]);
        Assert.Equal(21.33f, ((RegressionTargets)data.Task("cooling_load")).Values[0]);
        for (int r = 0; r < rows.Length; r++)
        {
            for (int c = 0; c < 8; c++) Assert.Equal(F(rows[r][c]), data.Inputs[r * 8 + c]);
            Assert.Equal(F(rows[r][8]), ((RegressionTargets)data.Tasks[0]).Values[r]);
            Assert.Equal(F(rows[r][9]), ((RegressionTargets)data.Tasks[1]).Values[r]);
            Assert.Equal(r + 2, data.SourceLines[r]); // header is line 1
        }
    }

    [Fact]
    public void Wine_quality_loads_with_integer_and_string_label_maps()
    {
        var data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQuality);
        var (_, rows) = NaiveRead(BundledFiles.WineQuality);

        Assert.Equal(6497, data.RowCount);
        Assert.Equal(11, data.InputCount);
        var quality = (ClassTargets)data.Task("quality");
        var color = (ClassTargets)data.Task("color");
        // Integer labels sort numerically; string labels ordinally.
        Assert.True(quality.Labels.IsInteger);
        Assert.Equal(["3", "4", "5", "6", "7", "8", "9"], quality.Labels.Labels);
        Assert.False(color.Labels.IsInteger);
        Assert.Equal(["red", "white"], color.Labels.Labels);
        // First row: 7.4,0.7,0,1.9,0.076,11,34,0.9978,3.51,0.56,9.4,5,red
        Assert.Equal([7.4f, 0.7f, 0f, 1.9f, 0.076f, 11f, 34f, 0.9978f, 3.51f, 0.56f, 9.4f], data.InputRow(0).ToArray());
        Assert.Equal(2, quality.Classes[0]); // quality 5
        Assert.Equal(0, color.Classes[0]);   // red
        for (int r = 0; r < rows.Length; r++)
        {
            for (int c = 0; c < 11; c++) Assert.Equal(F(rows[r][c]), data.Inputs[r * 11 + c]);
            Assert.Equal(int.Parse(rows[r][11], CultureInfo.InvariantCulture) - 3, quality.Classes[r]);
            Assert.Equal(rows[r][12] == "red" ? 0 : 1, color.Classes[r]);
        }
        Assert.Equal(rows.Count(r => r[12] == "red"), color.Classes.Count(c => c == 0));
    }

    [Fact]
    public void Wine_quality_can_be_a_regression_target()
    {
        var data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQualityRegression);
        var quality = (RegressionTargets)data.Task("quality");
        Assert.Equal(1, quality.Width);
        Assert.Equal(5f, quality.Values[0]);
        var last = File.ReadAllLines(BundledFiles.WineQuality).Last(l => l.Length > 0).Split(',');
        Assert.Equal(F(last[11]), quality.Values[^1]);
    }

    [Fact]
    public void Semicolon_separator_is_detected_and_quoted_fields_are_unquoted()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("semi.csv",
            "x;\"name; with separator\";label\n" +
            "1.5;\"2.25\";\"big; red\"\n" +
            "-3e2;4;\"say \"\"hi\"\"\"\n" +
            "7;\"8\";\"two\nlines\"\n");
        var schema = TableSchema.Empty.WithNumeric("x", "name; with separator").WithClassification("label");

        foreach (char? delimiter in new char?[] { null, ';' })
        {
            var data = CsvTable.Load(path, schema, delimiter);
            Assert.Equal(3, data.RowCount);
            Assert.Equal([1.5f, 2.25f, -300f, 4f, 7f, 8f], data.Inputs);
            var labels = (ClassTargets)data.Task("label");
            // Ordinal order: "big; red" < "say \"hi\"" < "two\nlines"
            Assert.Equal(["big; red", "say \"hi\"", "two\nlines"], labels.Labels.Labels);
            Assert.Equal([0, 1, 2], labels.Classes);
            Assert.Equal([2, 3, 4], data.SourceLines);
        }
    }

    [Fact]
    public void Tab_separated_and_given_separator()
    {
        using var dir = new TempDirectory();
        var tsv = dir.Write("t.tsv", "a\tb\n1\t2\n3\t4\n");
        Assert.Equal([1f, 2f, 3f, 4f], CsvTable.Load(tsv, TableSchema.Empty.WithNumeric("a", "b")).Inputs);
        // With ',' given, a ';' file has one column named "a;b": the schema's "a" is then unknown.
        var semi = dir.Write("s.csv", "a;b\n1;2\n");
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(semi, TableSchema.Empty.WithNumeric("a"), ','));
        Assert.Equal("a", error.Column);
    }

    [Fact]
    public void Categorical_inputs_are_one_hot_after_the_numeric_inputs()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("c.csv", "size,color,y\n1,red,0.5\n2,blue,1.5\n3,red,2.5\n4,green,3.5\n");
        var schema = TableSchema.Empty.WithNumeric("size").WithCategorical("color").WithRegression("y");
        var data = CsvTable.Load(path, schema);
        Assert.Equal(["size", "color=blue", "color=green", "color=red"], data.InputNames);
        Assert.Equal(new float[]
        {
            1, 0, 0, 1,
            2, 1, 0, 0,
            3, 0, 0, 1,
            4, 0, 1, 0,
        }, data.Inputs);
        Assert.Equal(["blue", "green", "red"], data.Encoding.Categories["color"].Labels);

        // New data encoded with the training vocabulary: the same slots, even with fewer categories present.
        var test = dir.Write("test.csv", "y,color,size\n9,green,5\n");
        var encoded = CsvTable.Load(test, schema, encoding: data.Encoding);
        Assert.Equal([5f, 0f, 1f, 0f], encoded.Inputs);
    }

    [Fact]
    public void Integer_labels_sort_numerically_and_accept_any_spelling_of_the_integer()
    {
        using var dir = new TempDirectory();
        var train = dir.Write("train.csv", "x,q\n1,10\n2,9\n3,-1\n4,09\n");
        var schema = TableSchema.Empty.WithNumeric("x").WithClassification("q");
        var data = CsvTable.Load(train, schema);
        var q = (ClassTargets)data.Task("q");
        Assert.Equal(["-1", "9", "10"], q.Labels.Labels); // not ordinal ("-1" < "10" < "9")
        Assert.Equal([2, 1, 0, 1], q.Classes);             // "09" is 9
        var test = dir.Write("test.csv", "x,q\n5,+10\n");
        Assert.Equal([2], ((ClassTargets)CsvTable.Load(test, schema, encoding: data.Encoding).Task("q")).Classes);
    }

    [Fact]
    public void Without_a_schema_numeric_columns_are_inputs_and_text_columns_categorical()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("n.csv", "a,kind,b\n1,x,2\n3,y,4\n");
        var data = CsvTable.Load(path);
        Assert.Equal(["a", "b"], data.Schema.NumericInputs);
        Assert.Equal(["kind"], data.Schema.CategoricalInputs);
        Assert.Empty(data.Tasks);
        Assert.Equal([1f, 2f, 1f, 0f, 3f, 4f, 0f, 1f], data.Inputs);
    }

    [Fact]
    public void Columns_the_schema_does_not_name_are_ignored_and_whitespace_is_trimmed()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("w.csv", "id , a ,note\n 17 , 2.5 ,free text\n");
        var data = CsvTable.Load(path, TableSchema.Empty.WithNumeric("a"));
        Assert.Equal([2.5f], data.Inputs);
    }

    [Fact]
    public void Select_takes_rows_in_the_given_order()
    {
        var data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQuality);
        var subset = data.Select([5, 0, 6496]);
        Assert.Equal(3, subset.RowCount);
        Assert.Equal(data.InputRow(5).ToArray(), subset.InputRow(0).ToArray());
        Assert.Equal(data.InputRow(0).ToArray(), subset.InputRow(1).ToArray());
        Assert.Equal(data.InputRow(6496).ToArray(), subset.InputRow(2).ToArray());
        var color = (ClassTargets)data.Task("color");
        Assert.Equal([color.Classes[5], color.Classes[0], color.Classes[6496]], ((ClassTargets)subset.Task("color")).Classes);
        Assert.Equal([7, 2, 6498], subset.SourceLines);
    }

    [Fact]
    public void Schema_round_trips_through_json_and_rejects_a_column_with_two_roles()
    {
        var schema = BundledDatasets.WineQuality.WithCategorical("region").WithTask(TaskSpec.Regression("both", "a", "b"));
        var back = TableSchema.FromJson(schema.ToJson());
        Assert.Equal(schema.NumericInputs, back.NumericInputs);
        Assert.Equal(schema.CategoricalInputs, back.CategoricalInputs);
        Assert.Equal(schema.Tasks.Select(t => (t.Name, t.Kind, string.Join("|", t.Columns))),
            back.Tasks.Select(t => (t.Name, t.Kind, string.Join("|", t.Columns))));
        var error = Assert.Throws<ArgumentException>(() => TableSchema.Empty.WithNumeric("color").WithClassification("color"));
        Assert.Contains("'color'", error.Message);
        Assert.Throws<ArgumentException>(() => TaskSpec.Regression("a.b"));
    }

    [Fact]
    public void Encoding_round_trips_through_json_keeping_order_and_integer_maps()
    {
        var data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQuality);
        var back = DataEncoding.FromJson(data.Encoding.ToJson());
        Assert.Equal(data.Encoding.Labels.Keys.Order(), back.Labels.Keys.Order());
        foreach (var (task, map) in data.Encoding.Labels)
        {
            Assert.Equal(map.Labels, back.Labels[task].Labels);
            Assert.Equal(map.IsInteger, back.Labels[task].IsInteger);
        }
        Assert.True(back.Labels["quality"].TryGetIndex("09", out int nine));
        Assert.Equal(6, nine);
        Assert.Throws<KeyNotFoundException>(() => back.Labels["color"].IndexOf("rose"));
        Assert.Throws<ArgumentException>(() => new LabelMap(["a", "a"]));
    }
}
