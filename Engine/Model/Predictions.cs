using Engine.Data;

namespace Engine;

/// <summary>The units of a regression prediction's values.</summary>
public enum PredictionUnits
{
    /// <summary>The units the model was trained on: standardized targets stay standardized (z). What
    /// <see cref="MultiTaskModel.Predict"/> returns; undo with <see cref="Standardization.InverseTargets"/> (x = z·σ + μ).</summary>
    Standardized,

    /// <summary>The data's own units (x = z·σ + μ, the target standardization undone). What
    /// <see cref="MultiTaskModel.PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/> returns.</summary>
    Original,
}

/// <summary>
/// One task's outputs for a set of rows. Regression: <see cref="Values"/> [rows × k] in <see cref="Units"/>
/// (standardized from <see cref="MultiTaskModel.Predict"/>, original from <see cref="MultiTaskModel.PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/>). Classification: <see cref="Values"/> are the logits
/// [rows × C], <see cref="Probabilities"/> their softmax (computed in float64, max-shifted) and
/// <see cref="Classes"/> the argmax (ties to the lowest index). Binary: <see cref="Values"/> are the logits [rows × 1],
/// <see cref="Probabilities"/> σ(z) = P(class 1) [rows] (float64, without overflow) and <see cref="Classes"/> [z &gt; 0].
/// Multi-label: the same per label, [rows × k] each.
/// </summary>
public sealed class TaskPrediction
{
    internal TaskPrediction(TaskHead head, int rows, bool probabilities = false)
    {
        _valuesAreProbabilities = probabilities;
        Name = head.Name;
        Kind = head.Kind;
        Outputs = head.Outputs;
        Rows = rows;
        Values = new float[(long)rows * head.Outputs];
        if (Kind != TaskKind.Regression)
        {
            Probabilities = new float[Values.Length];
            Classes = new int[Kind == TaskKind.MultiLabel ? Values.Length : rows];
        }
    }

    private readonly bool _valuesAreProbabilities; // a product task (§17.6): Values hold p, not a logit

    /// <summary>The task.</summary>
    public string Name { get; }

    /// <summary>Regression or classification.</summary>
    public TaskKind Kind { get; }

    /// <summary>k values, or C classes, per row.</summary>
    public int Outputs { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Regression values (in <see cref="Units"/>) or classification logits, row-major [Rows × Outputs].</summary>
    public float[] Values { get; }

    /// <summary>The units of regression <see cref="Values"/> (classification logits have none; they are the same either way).</summary>
    public PredictionUnits Units { get; private set; } = PredictionUnits.Standardized;

    /// <summary>Class probabilities [Rows × C] (classification only).</summary>
    public float[]? Probabilities { get; }

    /// <summary>The most probable class of each row (classification only).</summary>
    public int[]? Classes { get; }

    /// <summary>In place: regression values z ← z·σ + μ with the task's target standardizer; <see cref="Units"/> becomes Original.</summary>
    internal void ToOriginalUnits(Standardization scale)
    {
        if (Units == PredictionUnits.Original) return;
        if (Kind == TaskKind.Regression) scale.InverseTargets(Name, Values);
        Units = PredictionUnits.Original;
    }

    /// <summary>Fills <see cref="Probabilities"/> and <see cref="Classes"/> from the logits in <see cref="Values"/>.</summary>
    internal void FinishClassification()
    {
        if (Kind is TaskKind.Binary or TaskKind.MultiLabel)   // one logit per label: σ(z), and [z > 0]
        {
            for (int i = 0; i < Values.Length; i++)
            {
                if (_valuesAreProbabilities) { Probabilities![i] = Values[i]; Classes![i] = Values[i] > 0.5f ? 1 : 0; continue; }
                Probabilities![i] = (float)Kernels.BinaryCrossEntropyReference.Sigmoid(Values[i]);
                Classes![i] = Values[i] > 0 ? 1 : 0;
            }
            return;
        }
        if (Kind != TaskKind.Classification) return;
        int c = Outputs;
        for (int r = 0; r < Rows; r++)
        {
            var logits = Values.AsSpan(r * c, c);
            int best = 0;
            for (int j = 1; j < c; j++) if (logits[j] > logits[best]) best = j;
            double max = logits[best], sum = 0;
            for (int j = 0; j < c; j++) sum += Math.Exp(logits[j] - max);
            for (int j = 0; j < c; j++) Probabilities![r * c + j] = (float)(Math.Exp(logits[j] - max) / sum);
            Classes![r] = best;
        }
    }
}

/// <summary>The model's outputs for a set of rows, one <see cref="TaskPrediction"/> per head (in head order).</summary>
public sealed class Predictions
{
    internal Predictions(IReadOnlyList<TaskPrediction> tasks, int rows)
    {
        Tasks = tasks;
        Rows = rows;
    }

    /// <summary>Number of rows predicted.</summary>
    public int Rows { get; }

    /// <summary>Per task, in the model's head order.</summary>
    public IReadOnlyList<TaskPrediction> Tasks { get; }

    /// <summary>The units of every regression task's values: <see cref="PredictionUnits.Standardized"/> from
    /// <see cref="MultiTaskModel.Predict"/>, <see cref="PredictionUnits.Original"/> from <see cref="MultiTaskModel.PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/>.</summary>
    public PredictionUnits Units => Tasks.Count > 0 ? Tasks[0].Units : PredictionUnits.Standardized;

    /// <summary>The prediction of the task called <paramref name="task"/>.</summary>
    public TaskPrediction this[string task] => Tasks.FirstOrDefault(t => t.Name == task)
        ?? throw new KeyNotFoundException($"No task '{task}' (tasks: {string.Join(", ", Tasks.Select(t => t.Name))}).");
}
