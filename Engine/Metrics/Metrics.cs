using Engine.Training;

namespace Engine.Metrics;

/// <summary>Evaluation of a model on a labelled set (formulas: <see cref="TaskMetrics"/>; docs/maths.md §16).</summary>
public static class Metrics
{
    /// <summary>
    /// Per-task loss, RMSE/MAE (regression, in the original units when the data carries a scale) and accuracy
    /// (classification) of <paramref name="model"/> on <paramref name="data"/>, in the model's head order. The data is
    /// uploaded once and evaluated in no-grad passes of at most <see cref="MultiTaskModel.MaxPredictionBatch"/> rows.
    /// </summary>
    /// <exception cref="ArgumentException">The data does not fit the model (width, task names, kinds, class counts).</exception>
    public static IReadOnlyList<TaskMetrics> Evaluate(MultiTaskModel model, TrainingData data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        using var device = DeviceDataset.Upload(model, data, nameof(data));
        using var evaluator = new Evaluator(model);
        return evaluator.Evaluate(device);
    }
}
