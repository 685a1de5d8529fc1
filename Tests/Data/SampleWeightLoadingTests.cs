using System.Text;
using Engine.Data;
using Engine.Training;

namespace Engine.Tests.Data;

/// <summary>
/// The sample-weight column of a CSV (maths §19.11, issue #14): read into <see cref="Dataset.SampleWeights"/>, carried by a
/// row selection, recorded in the schema JSON only when set; every bad cell an error naming the file, row and column; a task
/// whose labelled rows all weigh 0 an error naming the task; the column in two roles or absent from the header an error; and
/// the weights carried into <see cref="TrainingData.SampleWeights"/> (checked there too: finite, ≥ 0, one per row).
/// </summary>
public class SampleWeightLoadingTests
{
    private static readonly TableSchema Schema = TableSchema.Empty.WithNumeric("x").WithRegression("y").WithClassification("c").WithWeightColumn("w");

    private static Dataset Load(string csv, TableSchema? schema = null) =>
        CsvTable.Load(new MemoryStream(Encoding.UTF8.GetBytes(csv)), schema ?? Schema, source: "weights.csv");

    [Fact]
    public void The_weight_column_is_read_and_follows_a_row_selection()
    {
        var data = Load("x,y,c,w\n1,2,a,0.5\n2,NA,b,2\n3,4,,0\n");
        Assert.Equal([0.5f, 2f, 0f], data.SampleWeights!);
        Assert.Equal(1, data.InputCount);                                     // neither an input …
        Assert.Equal(["y", "c"], data.Tasks.Select(t => t.Name));             // … nor a target
        Assert.Equal([0f, 0.5f], data.Select([2, 0]).SampleWeights!);
        Assert.Equal("w", TableSchema.FromJson(Schema.ToJson()).WeightColumn);
        Assert.DoesNotContain("weightColumn", TableSchema.Empty.WithNumeric("x").WithRegression("y").ToJson());
        Assert.Null(Load("x,y,c,w\n1,2,a,1\n", TableSchema.Empty.WithNumeric("x").WithRegression("y")).SampleWeights);
    }

    [Theory]
    [InlineData("", "missing value")]
    [InlineData("NA", "missing value")]
    [InlineData("abc", "not a number")]
    [InlineData("-1", "negative")]
    [InlineData("1e40", "outside the float32 range")]
    public void A_bad_weight_cell_names_the_file_row_and_column(string cell, string problem)
    {
        var e = Assert.Throws<DataFileException>(() => Load($"x,y,c,w\n1,2,a,1\n2,3,b,{cell}\n"));
        Assert.Equal("weights.csv", e.FilePath);
        Assert.Equal(3, e.Line);
        Assert.Equal("w", e.Column);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_task_whose_labelled_rows_all_weigh_zero_is_an_error_naming_the_task()
    {
        // Task c is labelled only on rows of weight 0; task y has weight on row 3.
        var e = Assert.Throws<DataFileException>(() => Load("x,y,c,w\n1,2,a,0\n2,3,b,0\n3,4,,1\n"));
        Assert.Equal("w", e.Column);
        Assert.Contains("task 'c'", e.Message);
    }

    [Fact]
    public void The_weight_column_cannot_have_another_role_or_be_missing()
    {
        var target = Assert.Throws<ArgumentException>(() => TableSchema.Empty.WithNumeric("x").WithRegression("y").WithWeightColumn("y"));
        Assert.Contains("sample-weight", target.Message);
        var input = Assert.Throws<ArgumentException>(() => TableSchema.Empty.WithNumeric("x").WithRegression("y").WithWeightColumn("x"));
        Assert.Contains("numeric input", input.Message);
        var absent = Assert.Throws<DataFileException>(() => Load("x,y,c\n1,2,a\n"));
        Assert.Equal("w", absent.Column);
    }

    [Fact]
    public void The_training_data_carries_the_weights_and_checks_them()
    {
        Assert.Equal([1f, 2f], TrainingData.FromDataset(Load("x,y,c,w\n1,2,a,1\n2,3,b,2\n")).SampleWeights!);
        TaskData[] tasks = [TaskData.Regression("y", [1f, 2f])];
        Assert.Contains("row 1", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingData([1f, 2f], 1, tasks, [1f, -1f])).Message);
        Assert.Contains("row 0", Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingData([1f, 2f], 1, tasks, [float.NaN, 1f])).Message);
        Assert.Contains("3 sample weights for 2 rows", Assert.Throws<ArgumentException>(() => new TrainingData([1f, 2f], 1, tasks, [1f, 1f, 1f])).Message);
    }
}
