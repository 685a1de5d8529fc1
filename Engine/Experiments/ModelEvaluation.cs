using Engine.Data;

namespace Engine.Experiments;

/// <summary>One task's predictions in the data's own units.</summary>
/// <param name="Task">The task.</param>
/// <param name="Kind">Regression or classification.</param>
/// <param name="Columns">Regression: the target columns (k); classification: the label column.</param>
/// <param name="Values">Regression: [rows × k] in original units (standardization undone). Classification: null.</param>
/// <param name="Labels">Classification: the most probable class of each row, as the label string the training
/// data used (e.g. "red"). Regression: null.</param>
/// <param name="ClassNames">Classification: the classes in index order. Regression: null.</param>
/// <param name="Probabilities">Classification: [rows × classes]. Regression: null.</param>
/// <remarks>A binary task's <see cref="Probabilities"/> are [rows × 2], (1 − σ(z), σ(z)), and <see cref="Logits"/> holds z; a product
/// task's (<see cref="ModelSpec.Graph"/>) are (1 − p, p) with p = Π pᶠ, and it has no logits.</remarks>
public sealed record TaskOutput(string Task, TaskKind Kind, IReadOnlyList<string> Columns, float[]? Values,
    string[]? Labels, IReadOnlyList<string>? ClassNames, float[]? Probabilities)
{
    /// <summary>Binary: the logits z [rows]; otherwise null, and null for a product task (its output is a probability).</summary>
    public float[]? Logits { get; init; }
}

/// <summary>
/// Runs a trained model on a dataset and reads its outputs in the data's own units: regression predictions
/// mapped back through the target standardization (x = z·σ + μ), class indices mapped back to their labels.
/// </summary>
public static class ModelEvaluation
{
    /// <summary>The classes of a loss-free binary task that has no column (so no labels were read): 0 and 1.</summary>
    private static readonly LabelMap UnlabelledBinary = new(["0", "1"]);

    /// <summary>
    /// Predicts every task for every row of <paramref name="raw"/> (a dataset in original units, encoded with the
    /// model's <see cref="DataEncoding"/>); the inputs are standardized with <paramref name="scale"/> first.
    /// </summary>
    public static IReadOnlyList<TaskOutput> PredictOriginalUnits(MultiTaskModel model, Dataset raw, Standardization scale, DataEncoding encoding)
    {
        if (raw.RowCount == 0) return [];
        var inputs = scale.StandardizeInputs(raw); // a value the network would overflow on is an error naming row and column
        var predictions = model.Predict(inputs, raw.RowCount);
        var outputs = new List<TaskOutput>(model.Spec.Heads.Count);
        foreach (var head in model.Spec.Heads)
        {
            var p = predictions[head.Name];
            if (head.Kind == TaskKind.Regression)
            {
                var values = (float[])p.Values.Clone();
                scale.InverseTargets(head.Name, values);
                var columns = raw.Schema.Tasks.FirstOrDefault(t => t.Name == head.Name)?.Columns ?? [head.Name];
                outputs.Add(new TaskOutput(head.Name, TaskKind.Regression, columns, values, null, null, null));
            }
            else if (head.Kind == TaskKind.MultiLabel)      // one probability σ(z) per label column
            {
                var columns = (raw.Schema.Tasks.FirstOrDefault(t => t.Name == head.Name) ?? model.Metadata?.Schema?.Tasks.FirstOrDefault(t => t.Name == head.Name))?.Columns
                    ?? [.. Enumerable.Range(0, head.Outputs).Select(j => $"{head.Name}{j}")];   // a file to predict on has no target columns: the model's schema names them
                outputs.Add(new TaskOutput(head.Name, TaskKind.MultiLabel, columns, (float[])p.Probabilities!.Clone(), null, null, null) { Logits = (float[])p.Values.Clone() });
            }
            else
            {
                var map = encoding.Labels.TryGetValue(head.Name, out var m) ? m
                    : head.Kind == TaskKind.Binary && model.Spec.IsUnsupervised(model.Spec.IndexOf(head.Name)) ? UnlabelledBinary // no column (§17.6)
                    : throw new ArgumentException($"The model has no label map for classification task '{head.Name}'.", nameof(encoding));
                var labels = p.Classes!.Select(map.LabelOf).ToArray();
                var column = raw.Schema.Tasks.FirstOrDefault(t => t.Name == head.Name)?.Columns[0] ?? head.Name;
                if (head.Kind == TaskKind.Binary)
                {
                    var two = new float[2 * p.Rows];
                    for (int r = 0; r < p.Rows; r++) { two[2 * r] = 1 - p.Probabilities![r]; two[2 * r + 1] = p.Probabilities[r]; }
                    // A product task (ESMM's pCTCVR, maths §17.6) outputs a probability, not a logit: no Logits.
                    bool product = model.Spec.IsProduct(model.Spec.IndexOf(head.Name));
                    outputs.Add(new TaskOutput(head.Name, TaskKind.Binary, [column], null, labels, map.Labels, two) { Logits = product ? null : (float[])p.Values.Clone() });
                }
                else outputs.Add(new TaskOutput(head.Name, TaskKind.Classification, [column], null, labels, map.Labels, p.Probabilities));
            }
        }
        return outputs;
    }

    /// <summary>
    /// Scores the model on every task of <paramref name="raw"/> (which must hold the targets), in original units, weighted
    /// by its <see cref="Dataset.SampleWeights"/> when it has them (<see cref="TaskScore.Weighted"/>).
    /// An empty dataset gives an empty list.
    /// </summary>
    public static IReadOnlyList<TaskScore> Score(MultiTaskModel model, Dataset raw, Standardization scale, DataEncoding encoding)
    {
        if (raw.RowCount == 0) return [];
        var outputs = PredictOriginalUnits(model, raw, scale, encoding);
        var scores = new List<TaskScore>(outputs.Count);
        var weights = raw.SampleWeights;   // the scores are weighted by row when the data has sample weights (maths §19.11)
        foreach (var output in outputs)
        {
            var targets = raw.Tasks.FirstOrDefault(t => t.Name == output.Task);
            if (targets is null && model.Spec.IsUnsupervised(model.Spec.IndexOf(output.Task))) continue; // a loss-free task without a column: nothing to score
            if (targets is null) throw new ArgumentException($"{raw.Source} has no targets for task '{output.Task}'.", nameof(raw));
            scores.Add(targets switch
            {
                RegressionTargets r => TaskScore.Regression(r, output.Values!, scale.Target(r.Name), model.Spec.Heads.First(h => h.Name == r.Name).Loss, weights),
                ClassTargets { Kind: TaskKind.Binary } b when output.Logits is null => TaskScore.BinaryProbabilities(b, output.Probabilities!, weights),
                ClassTargets { Kind: TaskKind.Binary } b => TaskScore.Binary(b, output.Logits!, weights),
                MultiLabelTargets m => TaskScore.MultiLabel(m, output.Logits!, weights),
                ClassTargets c => TaskScore.Classification(c, output.Probabilities!, weights),
                _ => throw new NotSupportedException(targets.GetType().Name),
            });
        }
        return scores;
    }
}
