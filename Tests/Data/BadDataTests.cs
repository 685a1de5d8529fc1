using Engine.Data;

namespace Engine.Tests.Data;

/// <summary>Every kind of bad data is a <see cref="DataFileException"/> whose message names the file, the
/// 1-based line (header = line 1) and the column.</summary>
public class BadDataTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private static readonly TableSchema Schema = TableSchema.Empty.WithNumeric("a", "b").WithClassification("label");

    public void Dispose() => _dir.Dispose();

    private DataFileException Fails(string csv, TableSchema? schema = null, DataEncoding? encoding = null, string name = "bad.csv")
    {
        var path = _dir.Write(name, csv);
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(path, schema ?? Schema, encoding: encoding));
        Assert.Equal(path, error.FilePath);
        Assert.StartsWith(path, error.Message);
        return error;
    }

    private static void AssertNames(DataFileException error, long line, string column, string problemFragment)
    {
        Assert.Equal(line, error.Line);
        Assert.Equal(column, error.Column);
        Assert.Contains($", row {line}", error.Message);
        Assert.Contains($"column '{column}'", error.Message);
        Assert.Contains(problemFragment, error.Message);
    }

    [Fact]
    public void Missing_value_names_file_row_and_column()
    {
        var error = Fails("a,b,label\n1,2,x\n3,,y\n");
        AssertNames(error, 3, "b", "missing value");
    }

    [Theory]
    [InlineData("NA")]
    [InlineData("nan")]
    [InlineData("?")]
    public void Missing_markers_are_missing_values(string marker)
    {
        var error = Fails($"a,b,label\n1,2,x\n3,4,y\n{marker},5,z\n");
        AssertNames(error, 4, "a", "missing value");
    }

    [Fact]
    public void Missing_class_label_is_a_missing_value_under_the_strict_policy()
    {
        // By default a missing target is "no label" (MissingLabelDataTests); MissingLabels.Error keeps it an error.
        var path = _dir.Write("bad.csv", "a,b,label\n1,2,x\n3,4,\"\"\n");
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(path, Schema, missingLabels: MissingLabels.Error));
        AssertNames(error, 3, "label", "missing value");
    }

    [Fact]
    public void Non_numeric_text_in_a_numeric_column_names_the_value()
    {
        var error = Fails("a,b,label\n1,2,x\n3,four,y\n");
        AssertNames(error, 3, "b", "'four' is not a number");
    }

    [Fact]
    public void Decimal_comma_gets_a_hint()
    {
        var error = Fails("a;b;label\n1;2,5;x\n");
        AssertNames(error, 2, "b", "'.' as the decimal separator");
    }

    [Fact]
    public void Number_beyond_float32_range_is_rejected()
    {
        var error = Fails("a,b,label\n1e39,2,x\n");
        AssertNames(error, 2, "a", "float32 range");
    }

    [Fact]
    public void Unknown_column_is_reported_on_the_header_row_with_the_columns_there_are()
    {
        var error = Fails("a,B,label\n1,2,x\n");
        AssertNames(error, 1, "b", "no such column");
        Assert.Contains("a, B, label", error.Message);
    }

    [Fact]
    public void Class_label_never_seen_in_training_names_the_known_labels()
    {
        var train = CsvTable.Load(_dir.Write("train.csv", "a,b,label\n1,2,red\n3,4,white\n"), Schema);
        var error = Fails("a,b,label\n1,2,white\n3,4,red\n5,6,rose\n", encoding: train.Encoding, name: "test.csv");
        AssertNames(error, 4, "label", "'rose' was never seen in the training data");
        Assert.Contains("{red, white}", error.Message);
    }

    [Fact]
    public void Category_never_seen_in_training_is_rejected()
    {
        var schema = TableSchema.Empty.WithNumeric("a").WithCategorical("c");
        var train = CsvTable.Load(_dir.Write("train.csv", "a,c\n1,x\n2,y\n"), schema);
        var error = Fails("a,c\n1,y\n2,z\n", schema, train.Encoding, "test.csv");
        AssertNames(error, 3, "c", "'z' was never seen");
    }

    [Fact]
    public void Empty_file_is_rejected()
    {
        foreach (var text in new[] { "", "\n\n  \n" })
        {
            var error = Fails(text);
            Assert.Equal(1, error.Line);
            Assert.Contains("row 1", error.Message);
            Assert.Contains("empty", error.Message);
        }
    }

    [Fact]
    public void Header_without_rows_is_rejected()
    {
        var error = Fails("a,b,label\n");
        Assert.Equal(2, error.Line);
        Assert.Contains("no data rows", error.Message);
    }

    [Fact]
    public void Short_row_names_the_first_missing_column()
    {
        var error = Fails("a,b,label\n1,2,x\n3,4\n");
        AssertNames(error, 3, "label", "has 2 fields but the header has 3");
    }

    [Fact]
    public void Long_row_names_the_last_column()
    {
        var error = Fails("a,b,label\n1,2,x,extra\n");
        Assert.Equal(2, error.Line);
        Assert.Contains("row 2", error.Message);
        Assert.Contains("has 4 fields but the header has 3", error.Message);
        Assert.Contains("'label'", error.Message);
    }

    [Fact]
    public void Row_numbers_count_lines_inside_quoted_fields_and_blank_lines()
    {
        // Line 1 header, 2–3 a record with a line break in quotes, 4 blank, 5 the bad record.
        var error = Fails("a,b,label\n1,2,\"x\ny\"\n\n3,oops,z\n");
        AssertNames(error, 5, "b", "'oops' is not a number");
    }

    [Fact]
    public void Duplicate_header_name_is_rejected()
    {
        var error = Fails("a,b,a,label\n1,2,3,x\n");
        AssertNames(error, 1, "a", "twice");
    }

    [Fact]
    public void Malformed_quoting_names_the_file_and_row()
    {
        var error = Fails("a,b,label\n1,2,x\n3,\"4\"5,y\n");
        Assert.Equal(3, error.Line);
        Assert.Contains("row 3", error.Message);
        Assert.Contains("malformed", error.Message);
    }
}
