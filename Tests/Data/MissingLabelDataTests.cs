using Engine.Data;
using Engine.Training;

namespace Engine.Tests.Data;

/// <summary>
/// Missing labels entering the engine: empty, <c>NA</c> and <c>?</c> target cells load as "no label" (NaN, class −1),
/// <see cref="MissingLabels.Error"/> keeps the old load error, missing inputs stay an error, label maps and target
/// standardization are fitted on the present labels only, and the seeded label remover is exact and reproducible.
/// </summary>
public class MissingLabelDataTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"engine-missing-{Guid.NewGuid():N}.csv");

    public void Dispose() => File.Delete(_path);

    private static readonly TableSchema Schema = TableSchema.Empty.WithNumeric("x").WithRegression("y").WithClassification("c");

    private string Write(string text)
    {
        File.WriteAllText(_path, text);
        return _path;
    }

    [Fact]
    public void Empty_NA_and_question_mark_targets_are_no_label()
    {
        var data = CsvTable.Load(Write("x,y,c\n1,2,a\n2,,b\n3,NA,?\n4,8,\n5,?,a\n"), Schema);
        var y = ((RegressionTargets)data.Task("y")).Values;
        Assert.Equal(2f, y[0]);
        Assert.True(float.IsNaN(y[1]) && float.IsNaN(y[2]) && float.IsNaN(y[4]));
        Assert.Equal(8f, y[3]);
        var c = (ClassTargets)data.Task("c");
        Assert.Equal(["a", "b"], c.Labels.Labels);                 // fitted on the present labels only
        Assert.Equal([0, 1, ClassTargets.Missing, ClassTargets.Missing, 0], c.Classes);
        Assert.Equal(2, data.Task("y").LabelledCount);
        Assert.Equal(3, data.Task("c").LabelledCount);
    }

    [Fact]
    public void The_strict_policy_keeps_a_missing_target_a_load_error()
    {
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(Write("x,y,c\n1,2,a\n2,,b\n"), Schema, missingLabels: MissingLabels.Error));
        Assert.Equal(3, error.Line);
        Assert.Equal("y", error.Column);
        Assert.Contains("missing value", error.Message);
    }

    [Fact]
    public void A_missing_input_is_still_an_error()
    {
        var error = Assert.Throws<DataFileException>(() => CsvTable.Load(Write("x,y,c\n1,2,a\n,3,b\n"), Schema));
        Assert.Contains("'x'", error.Message);
    }

    [Fact]
    public void Target_standardization_is_fitted_on_the_present_values_and_keeps_the_missing_ones_missing()
    {
        var data = CsvTable.Load(Write("x,y,c\n1,2,a\n2,,b\n3,6,a\n4,,b\n"), Schema);
        var scale = Standardization.Fit(data);
        var s = scale.Target("y");
        Assert.Equal(4.0, s.Mean[0], 12);   // (2 + 6)/2
        Assert.Equal(2.0, s.Std[0], 12);    // √(((2−4)² + (6−4)²)/2)
        var y = ((RegressionTargets)scale.Apply(data).Task("y")).Values;
        Assert.Equal([-1f, float.NaN, 1f, float.NaN], y);
        var train = TrainingData.FromDataset(scale.Apply(data), scale);
        Assert.Equal(2, train["y"].LabelledCount);
    }

    [Fact]
    public void A_regression_task_without_any_training_label_is_rejected_by_name()
    {
        var data = CsvTable.Load(Write("x,y,c\n1,,a\n2,NA,b\n"), Schema);
        var error = Assert.Throws<ArgumentException>(() => Standardization.Fit(data));
        Assert.Contains("'y'", error.Message);
    }

    [Fact]
    public void The_label_remover_removes_exactly_the_fraction_reproducibly()
    {
        var a = LabelRemoval.ChooseRows(1000, 0.3, seed: 5);
        Assert.Equal(300, a.Length);
        Assert.Equal(300, a.Distinct().Count());
        Assert.Equal(a, LabelRemoval.ChooseRows(1000, 0.3, seed: 5));
        Assert.NotEqual(a, LabelRemoval.ChooseRows(1000, 0.3, seed: 6));
        var data = CsvTable.Load(Write("x,y,c\n1,2,a\n2,3,b\n3,6,a\n4,5,b\n"), Schema);
        var removed = LabelRemoval.Remove(data, "c", 0.5, seed: 1);
        Assert.Equal(2, removed.Task("c").LabelledCount);
        Assert.Equal(4, removed.Task("y").LabelledCount);
        Assert.Equal(4, data.Task("c").LabelledCount); // the original is unchanged
        Assert.Throws<ArgumentOutOfRangeException>(() => LabelRemoval.ChooseRows(10, 1.5, 0));
    }

    [Fact]
    public void The_label_remover_unlabels_whole_rows_of_a_multi_label_task()
    {
        int[] labels = [1, 0, 1, MultiLabelTargets.Missing, 0, 0, 1, 1];   // 4 rows × 2 labels, 7 labelled pairs
        var data = CsvTable.Load(Write("x,y,c\n1,2,a\n2,3,b\n3,6,a\n4,5,b\n"), Schema);
        var multi = data.With(data.Inputs, [.. data.Tasks, new MultiLabelTargets("tags", ["t1", "t2"], labels)]);
        var removed = (MultiLabelTargets)LabelRemoval.Remove(multi, "tags", 0.5, seed: 1).Task("tags");
        var rows = LabelRemoval.ChooseRows(4, 0.5, seed: 1);
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 2; k++)
                Assert.Equal(rows.Contains(r) ? MultiLabelTargets.Missing : labels[r * 2 + k], removed.Labels[r * 2 + k]);
        Assert.Equal(7, ((MultiLabelTargets)multi.Task("tags")).LabelledCount);   // the original is unchanged
    }
}
