using Engine.Data;

namespace Engine;

/// <summary>
/// One task's outputs for a set of rows. Regression: <see cref="Values"/> [rows × k] in the units the model
/// was trained on (standardized targets stay standardized: invert with
/// <see cref="Standardization.InverseTargets"/>). Classification: <see cref="Values"/> are the logits
/// [rows × C], <see cref="Probabilities"/> their softmax (computed in float64, max-shifted) and
/// <see cref="Classes"/> the argmax (ties to the lowest index).
/// </summary>
public sealed class TaskPrediction
{
    internal TaskPrediction(TaskHead head, int rows)
    {
        Name = head.Name;
        Kind = head.Kind;
        Outputs = head.Outputs;
        Rows = rows;
        Values = new float[(long)rows * head.Outputs];
        if (Kind == TaskKind.Classification)
        {
            Probabilities = new float[Values.Length];
            Classes = new int[rows];
        }
    }

    /// <summary>The task.</summary>
    public string Name { get; }

    /// <summary>Regression or classification.</summary>
    public TaskKind Kind { get; }

    /// <summary>k values, or C classes, per row.</summary>
    public int Outputs { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Regression values or classification logits, row-major [Rows × Outputs].</summary>
    public float[] Values { get; }

    /// <summary>Class probabilities [Rows × C] (classification only).</summary>
    public float[]? Probabilities { get; }

    /// <summary>The most probable class of each row (classification only).</summary>
    public int[]? Classes { get; }

    /// <summary>Fills <see cref="Probabilities"/> and <see cref="Classes"/> from the logits in <see cref="Values"/>.</summary>
    internal void FinishClassification()
    {
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

    /// <summary>The prediction of the task called <paramref name="task"/>.</summary>
    public TaskPrediction this[string task] => Tasks.FirstOrDefault(t => t.Name == task)
        ?? throw new KeyNotFoundException($"No task '{task}' (tasks: {string.Join(", ", Tasks.Select(t => t.Name))}).");
}
