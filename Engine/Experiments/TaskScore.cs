using Engine.Data;

namespace Engine.Experiments;

/// <summary>
/// How well a model does on one task over one split, in the data's own units.
/// </summary>
/// <param name="Task">The task's name.</param>
/// <param name="Kind">Regression or classification.</param>
/// <param name="Rows">The number of rows scored: the rows that carry a label for this task (a row without one, maths.md
/// §19.1, is left out of every metric).</param>
/// <param name="Loss">The training objective on these rows: for a regression the task's loss (MSE, L1 or Huber(δ), §19.6)
/// of the standardized targets (mean over the labelled values); for a classification
/// the mean cross-entropy −(1/n)Σ log pᵢ(yᵢ) (natural log).</param>
/// <param name="Rmse">Regression: √((1/nk) Σ (ŷ − y)²) in original units; null for a classification.</param>
/// <param name="Mae">Regression: (1/nk) Σ |ŷ − y| in original units; null for a classification.</param>
/// <param name="Accuracy">Classification: the fraction of rows whose most probable class is the label; null for a regression.</param>
/// <remarks>Beside these (maths.md §19.4, <see cref="Metrics.ClassificationMetrics"/>): <see cref="LogLoss"/>, <see cref="Precision"/>,
/// <see cref="Recall"/> and <see cref="F1"/> for a classification (of class 1 for a binary task, the macro average over
/// the classes otherwise), <see cref="Auc"/> for a binary task, <see cref="RSquared"/> for a regression; null where they
/// do not apply.</remarks>
public sealed record TaskScore(string Task, TaskKind Kind, int Rows, double Loss, double? Rmse, double? Mae, double? Accuracy)
{
    /// <summary>Classification and binary: the mean cross-entropy in nats (the same number as <see cref="Loss"/>).</summary>
    public double? LogLoss { get; init; }

    /// <summary>Binary: the ROC AUC of σ(z), exact with ties.</summary>
    public double? Auc { get; init; }

    /// <summary>Precision (binary: of class 1; multi-class: macro average).</summary>
    public double? Precision { get; init; }

    /// <summary>Recall (binary: of class 1; multi-class: macro average).</summary>
    public double? Recall { get; init; }

    /// <summary>F1 (binary: of class 1; multi-class: the mean of the per-class F1).</summary>
    public double? F1 { get; init; }

    /// <summary>Regression: R² = 1 − SS_res/SS_tot over the labelled values, pooled over the columns.</summary>
    public double? RSquared { get; init; }

    /// <summary>True when the rows were scored with sample weights sᵣ (maths §19.11): <see cref="Loss"/>, <see cref="LogLoss"/>,
    /// <see cref="Rmse"/>, <see cref="Mae"/> and <see cref="Accuracy"/> are then the weighted
    /// means Σ sᵣmᵢ·xᵢ / Σ sᵣmᵢ (a weight of 2 counts the row twice), <see cref="Precision"/>, <see cref="Recall"/> and
    /// <see cref="F1"/> come from weighted confusion counts and <see cref="RSquared"/> is 1 − Σ sᵣmᵢ(ŷ − y)² / Σ sᵣmᵢ(y − ȳ_w)²
    /// (<see cref="Metrics.WeightedMetrics"/>); a binary task's <see cref="Auc"/> is the weighted pair count and a multi-label
    /// task's the mean of its labels' weighted AUCs; <see cref="Rows"/> is not weighted.</summary>
    public bool Weighted { get; init; }

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
    /// the errors back into the standardized units of the loss); <paramref name="loss"/> is the task's training loss
    /// (null: MSE), which <see cref="Loss"/> reports. With <paramref name="weights"/> (one sᵣ per row) the loss, RMSE,
    /// MAE and R² are weighted (<see cref="Weighted"/>).
    /// </summary>
    public static TaskScore Regression(RegressionTargets targets, ReadOnlySpan<float> predicted, Standardizer scale, RegressionLoss? loss = null,
        float[]? weights = null)
    {
        loss ??= RegressionLoss.Mse;
        var y = targets.Values;
        if (predicted.Length != y.Length)
            throw new ArgumentException($"Task '{targets.Name}': {predicted.Length} predictions for {y.Length} target values.", nameof(predicted));
        int k = targets.Width, present = 0, rows = 0;
        double squares = 0, absolute = 0, standardizedLoss = 0, mass = 0;
        for (int r = 0; r < targets.RowCount; r++)
            for (int j = 0; j < k; j++)
                if (!float.IsNaN(y[r * k + j])) { rows++; break; }
        for (int i = 0; i < y.Length; i++)
        {
            if (float.IsNaN(y[i])) continue; // no label
            present++;
            double w = weights?[i / k] ?? 1;
            if (w == 0) continue;            // a weight-0 row adds nothing
            double error = (double)predicted[i] - y[i];
            squares += w * error * error;
            absolute += w * Math.Abs(error);
            double z = error / scale.Std[i % k];
            standardizedLoss += w * loss.Of(z);
            mass += w;
        }
        double n = weights is null ? Math.Max(1, present) : mass > 0 ? mass : 1;   // no weight mass: 0, as without labels
        return new TaskScore(targets.Name, TaskKind.Regression, rows,
            standardizedLoss / n, Math.Sqrt(squares / n), absolute / n, null)
        {
            RSquared = weights is null ? Metrics.ClassificationMetrics.RSquared(predicted, y, k) : Metrics.WeightedMetrics.RSquared(predicted, y, k, weights),
            Weighted = weights is not null,
        };
    }

    private const double SmallestNormalFloat = 1.17549435e-38;

    /// <summary>Scores class probabilities [rows × classes] against the labels; with <paramref name="weights"/> (one sᵣ per
    /// row) the loss, accuracy and P/R/F1 are weighted.</summary>
    public static TaskScore Classification(ClassTargets targets, ReadOnlySpan<float> probabilities, float[]? weights = null)
    {
        int c = targets.ClassCount, rows = targets.RowCount;
        if (probabilities.Length != (long)rows * c)
            throw new ArgumentException($"Task '{targets.Name}': {probabilities.Length} probabilities for {rows} rows × {c} classes.", nameof(probabilities));
        double crossEntropy = 0, correct = 0, mass = 0;
        int labelled = 0;
        var predictedClasses = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var p = probabilities.Slice(r * c, c);
            int label = targets.Classes[r];
            if (label == ClassTargets.Missing) continue;
            labelled++;
            int best = 0;
            for (int j = 1; j < c; j++) if (p[j] > p[best]) best = j;
            predictedClasses[r] = best;
            double w = weights?[r] ?? 1;
            if (w == 0) continue;
            // log of a probability that rounded to 0 in float32: clamp at the smallest normal float.
            crossEntropy -= w * Math.Log(Math.Max((double)p[label], SmallestNormalFloat));
            if (best == label) correct += w;
            mass += w;
        }
        double n = weights is null ? Math.Max(1, labelled) : mass > 0 ? mass : 1;   // no weight mass: 0, as without labels
        var (precision, recall, f1) = weights is null ? Metrics.ClassificationMetrics.FromClasses(predictedClasses, targets.Classes, c)
            : Metrics.WeightedMetrics.PrecisionRecallF1(predictedClasses, targets.Classes, c, 1, weights);
        double loss = crossEntropy / n;
        return new TaskScore(targets.Name, TaskKind.Classification, labelled, loss, null, null, correct / n)
        { LogLoss = loss, Precision = precision, Recall = recall, F1 = f1, Weighted = weights is not null };
    }

    /// <summary>Scores a multi-label task from its logits z [rows × k]: the loss is the mean binary cross-entropy over the
    /// labelled (row, label) pairs (what it is trained on), accuracy the fraction of those pairs predicted right ([z &gt; 0]),
    /// P/R/F1 micro-averaged over them, AUC the mean of the labels' AUCs (<see cref="Metrics.ClassificationMetrics.MultiLabel"/>);
    /// <see cref="Rows"/> counts the rows with at least one label.</summary>
    /// <remarks>With <paramref name="weights"/> (one sᵣ per row, shared by the row's labels) the loss, accuracy and P/R/F1 are
    /// weighted, and the AUC is the mean over the labels of each label's weighted AUC (<see cref="Metrics.WeightedMetrics.MultiLabelAuc"/>).</remarks>
    public static TaskScore MultiLabel(MultiLabelTargets targets, ReadOnlySpan<float> logits, float[]? weights = null)
    {
        int k = targets.Width;
        if (logits.Length != targets.Labels.Length)
            throw new ArgumentException($"Task '{targets.Name}': {logits.Length} logits for {targets.RowCount} rows × {k} labels.", nameof(logits));
        double loss = 0, correct = 0, mass = 0;
        int labelled = 0, rows = 0;
        for (int r = 0; r < targets.RowCount; r++)
        {
            bool any = false;
            double w = weights?[r] ?? 1;
            for (int j = 0; j < k; j++)
            {
                int i = r * k + j, label = targets.Labels[i];
                if (label == MultiLabelTargets.Missing) continue;
                any = true;
                labelled++;
                if (w == 0) continue;
                loss += w * Kernels.BinaryCrossEntropyReference.Loss(logits[i], label);
                if ((logits[i] > 0 ? 1 : 0) == label) correct += w;
                mass += w;
            }
            if (any) rows++;
        }
        double n = weights is null ? Math.Max(1, labelled) : mass > 0 ? mass : 1;   // no weight mass: 0, as without labels
        var (precision, recall, f1, auc) = Metrics.ClassificationMetrics.MultiLabel(logits, targets.Labels, k);
        if (weights is not null)   // micro-averaged over the (row, label) pairs, each counted with its row's weight
            (precision, recall, f1) = Metrics.WeightedMetrics.PrecisionRecallF1(Array.ConvertAll(logits.ToArray(), z => z > 0 ? 1 : 0), targets.Labels, 2, k, weights);
        double mean = loss / n;
        return new TaskScore(targets.Name, TaskKind.MultiLabel, rows, mean, null, null, correct / n)
        {
            LogLoss = mean, Precision = precision, Recall = recall, F1 = f1,
            Auc = weights is null ? auc : Metrics.WeightedMetrics.MultiLabelAuc(logits, targets.Labels, k, weights), Weighted = weights is not null,
        };
    }

    /// <summary>Scores a binary task from its logits z [rows]: the loss is the mean binary cross-entropy computed from z
    /// (stable form, maths §19.3, so no probability rounds to 0 or 1), accuracy and P/R/F1 of the prediction [z &gt; 0],
    /// AUC of z (the same ranking as σ(z)).</summary>
    /// <remarks>With <paramref name="weights"/> (one sᵣ per row) the loss, accuracy, P/R/F1 and AUC are weighted.</remarks>
    public static TaskScore Binary(ClassTargets targets, ReadOnlySpan<float> logits, float[]? weights = null) => Binary(targets, logits, probabilities: false, weights);

    /// <summary>Scores a binary task from its probabilities [rows × 2], (1 − p, p), as a product task (ESMM's pCTCVR, maths
    /// §17.6) predicts them: the loss is the mean binary cross-entropy of p with PyTorch's logs clamped at −100 (§19.7, what it is
    /// trained on), accuracy and P/R/F1 of [p &gt; ½], AUC of p.</summary>
    public static TaskScore BinaryProbabilities(ClassTargets targets, ReadOnlySpan<float> probabilities, float[]? weights = null)
    {
        if (probabilities.Length != 2L * targets.RowCount)
            throw new ArgumentException($"Task '{targets.Name}': {probabilities.Length} probabilities for {targets.RowCount} rows × 2 classes.", nameof(probabilities));
        var p = new float[targets.RowCount];
        for (int r = 0; r < p.Length; r++) p[r] = probabilities[2 * r + 1];
        return Binary(targets, p, probabilities: true, weights);
    }

    /// <summary>The binary scores from one number per row: a logit z (decision z &gt; 0) or a probability p (decision p &gt; ½).</summary>
    private static TaskScore Binary(ClassTargets targets, ReadOnlySpan<float> score, bool probabilities, float[]? weights)
    {
        int rows = targets.RowCount;
        if (score.Length != rows) throw new ArgumentException($"Task '{targets.Name}': {score.Length} logits for {rows} rows.", nameof(score));
        double loss = 0, correct = 0, mass = 0;
        int labelled = 0;
        var predicted = new int[rows];
        var scores = new double[rows];
        float threshold = probabilities ? 0.5f : 0;
        for (int r = 0; r < rows; r++)
        {
            scores[r] = score[r];
            predicted[r] = score[r] > threshold ? 1 : 0;
            int label = targets.Classes[r];
            if (label == ClassTargets.Missing) continue;
            labelled++;
            double w = weights?[r] ?? 1;
            if (w == 0) continue;
            loss += w * (probabilities ? Kernels.ProbabilityCrossEntropyReference.Loss(score[r], label) : Kernels.BinaryCrossEntropyReference.Loss(score[r], label));
            if (predicted[r] == label) correct += w;
            mass += w;
        }
        double n = weights is null ? Math.Max(1, labelled) : mass > 0 ? mass : 1;   // no weight mass: 0, as without labels
        var (precision, recall, f1) = weights is null ? Metrics.ClassificationMetrics.FromClasses(predicted, targets.Classes, 2)
            : Metrics.WeightedMetrics.PrecisionRecallF1(predicted, targets.Classes, 2, 1, weights);
        double mean = loss / n;
        return new TaskScore(targets.Name, TaskKind.Binary, labelled, mean, null, null, correct / n)
        {
            LogLoss = mean, Precision = precision, Recall = recall, F1 = f1,
            Auc = weights is null ? Metrics.ClassificationMetrics.Auc(scores, targets.Classes)
                : Metrics.ClassificationMetrics.Auc(scores, targets.Classes, Metrics.WeightedMetrics.PerEntry(weights, 1)),
            Weighted = weights is not null,
        };
    }
}
