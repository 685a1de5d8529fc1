using Engine.Data;
using Engine.Distributed;
using Engine.Training;

namespace Engine.Tests.Distributed;

/// <summary>
/// <see cref="ShardData.Select"/> keeps every task's kind, width and labels for the rows a rank takes: it rebuilt every
/// non-regression task as a classification with one label per row, so a binary task (width 1) threw and a multi-label
/// task's rows × k labels were read one per row on data-parallel runs.
/// </summary>
public sealed class ShardDataTests
{
    [Fact]
    public void The_selected_rows_keep_each_tasks_kind_width_labels_and_weight()
    {
        // 4 rows, input width 2; a regression of 2 columns, a 3-class classification, a binary and a 3-label multi-label task.
        float[] inputs = [0, 1, 10, 11, 20, 21, 30, 31];
        var tasks = new[]
        {
            TaskData.Regression("y", [0.5f, 1.5f, float.NaN, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f], 2),
            TaskData.Classification("c", [2, -1, 0, 1], 3),
            TaskData.Binary("b", [1, 0, -1, 1]),
            TaskData.MultiLabel("m", [1, 0, 1, 0, 0, -1, 1, 1, 0, 0, 1, 1], 3),
        };
        var data = new TrainingData(inputs, 2, tasks, [1f, 2f, 3f, 4f]);

        var shard = ShardData.Select(data, [3, 1]);

        Assert.Equal([30f, 31f, 10f, 11f], shard.Inputs);
        Assert.Equal([4f, 2f], shard.SampleWeights!);
        Assert.Equal([TaskKind.Regression, TaskKind.Classification, TaskKind.Binary, TaskKind.MultiLabel], shard.Tasks.Select(t => t.Kind));
        Assert.Equal([2, 3, 1, 3], shard.Tasks.Select(t => t.Width));
        Assert.Equal([5.5f, 6.5f, float.NaN, 2.5f], shard.Tasks[0].Values!);
        Assert.Equal([1, -1], shard.Tasks[1].Classes!);
        Assert.Equal([1, 0], shard.Tasks[2].Classes!);
        Assert.Equal([0, 1, 1, 0, 0, -1], shard.Tasks[3].Classes!);
        Assert.All(shard.Tasks, t => Assert.Equal(2, t.Rows));
    }
}
