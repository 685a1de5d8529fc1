using Engine.Data;

namespace Engine.Experiments;

/// <summary>
/// How well a model does on one task over one split, in the data's own units.
/// </summary>
/// <param name="Task">The task's name.</param>
/// <param name="Kind">Regression or classification.</param>
/// <param name="Rows">The number of rows scored: the rows that carry a label for this task (a row without one, maths.md
/// §19.1, is left out of every metric).</param>
/// <param name="Loss">The training objective on these rows: for a regression the mean squared error of the
/// standardized targets (the MSE the model was trained on, mean over rows and outputs); for a classification
/// the mean cross-entropy −(1/n)Σ log pᵢ(yᵢ) (natural log).</param>
/// <param name="Rmse">Regression: √((1/nk) Σ (ŷ − y)²) in original units; null for a classification.</param>
/// <param name="Mae">Regression: (1/nk) Σ |ŷ − y| in original units; null for a classification.</param>
/// <param name="Accuracy">Classification: the fraction of rows whose most probable class is the label; null for a regression.</param>
public sealed record TaskScore(string Task, TaskKind Kind, int Rows, double Loss, double? Rmse, double? Mae, double? Accuracy)
{
    /// <summary>The metric Δm compares for this task: RMSE for a regression (the square root of the trained
    /// objective, in original units), accuracy for a classification.</summary>
    public double Primary => Kind == TaskKind.Regression ? Rmse!.Value : Accuracy!.Value;

    /// <summary>The name of <see cref="Primary"/>.</summary>
    public string PrimaryName => Kind == TaskKind.Regression ? "rmse" : "accuracy";

    /// <summary>Whether a lower <see cref="Primary"/> is better (l_i in Δm).</summary>
    public bool LowerIsBetter => Kind == TaskKind.Regression;

    /// <summary>
    /// Scores regression predictions. <paramref name="predicted"/> and <paramref name="targets"/>.Values are
    /// [rows × k] in original units; <paramref name="scale"/> is the task's target standardizer (σ turns
    /// the errors back into the standardized units of the loss).
    /// </summary>
    public static TaskScore Regression(RegressionTargets targets, ReadOnlySpan<float> predicted, Standardizer scale)
    {
        var y = targets.Values;
        if (predicted.Length != y.Length)
            throw new ArgumentException($"Task '{targets.Name}': {predicted.Length} predictions for {y.Length} target values.", nameof(predicted));
        int k = targets.Width, present = 0, rows = 0;
        double squares = 0, absolute = 0, standardizedSquares = 0;
        for (int r = 0; r < targets.RowCount; r++)
            for (int j = 0; j < k; j++)
                if (!float.IsNaN(y[r * k + j])) { rows++; break; }
        for (int i = 0; i < y.Length; i++)
        {
            if (float.IsNaN(y[i])) continue; // no label
            present++;
            double error = (double)predicted[i] - y[i];
            squares += error * error;
            absolute += Math.Abs(error);
            double z = error / scale.Std[i % k];
            standardizedSquares += z * z;
        }
        int n = Math.Max(1, present);
        return new TaskScore(targets.Name, TaskKind.Regression, rows,
            standardizedSquares / n, Math.Sqrt(squares / n), absolute / n, null);
    }

    private const double SmallestNormalFloat = 1.17549435e-38;

    /// <summary>Scores class probabilities [rows × classes] against the labels.</summary>
    public static TaskScore Classification(ClassTargets targets, ReadOnlySpan<float> probabilities)
    {
        int c = targets.ClassCount, rows = targets.RowCount;
        if (probabilities.Length != (long)rows * c)
            throw new ArgumentException($"Task '{targets.Name}': {probabilities.Length} probabilities for {rows} rows × {c} classes.", nameof(probabilities));
        double crossEntropy = 0;
        int correct = 0, labelled = 0;
        for (int r = 0; r < rows; r++)
        {
            var p = probabilities.Slice(r * c, c);
            int label = targets.Classes[r];
            if (label == ClassTargets.Missing) continue;
            labelled++;
            // log of a probability that rounded to 0 in float32: clamp at the smallest normal float.
            crossEntropy -= Math.Log(Math.Max((double)p[label], SmallestNormalFloat));
            int best = 0;
            for (int j = 1; j < c; j++) if (p[j] > p[best]) best = j;
            if (best == label) correct++;
        }
        int n = Math.Max(1, labelled);
        return new TaskScore(targets.Name, TaskKind.Classification, labelled, crossEntropy / n, null, null, (double)correct / n);
    }
}
