namespace Engine.Metrics;

/// <summary>
/// Sample-weighted error metrics in float64 (maths §19.11): each labelled value counts with its row's weight sᵣ ≥ 0, as it
/// counts in the weighted losses. A weight of 2 is the row written twice; weights ≡ 1 give the unweighted metrics. With no
/// weight mass (every labelled row weighs 0, or no label) the metric is null.
/// </summary>
public static class WeightedMetrics
{
    /// <summary>Weighted RMSE and MAE of a [rows × k] regression: RMSE = √(Σ sᵣmᵢσⱼ²eᵢ² / Σ sᵣmᵢ), MAE = Σ sᵣmᵢσⱼ|eᵢ| / Σ sᵣmᵢ,
    /// eᵢ = pᵢ − tᵢ, mᵢ = 1 where tᵢ is not NaN, σⱼ the column's scale (<paramref name="scale"/>, null = 1).</summary>
    public static (double? Rmse, double? Mae) Regression(ReadOnlySpan<float> predicted, ReadOnlySpan<float> targets, int k,
        ReadOnlySpan<float> weights, IReadOnlyList<double>? scale = null)
    {
        Check(predicted.Length, targets.Length, k, weights.Length);
        double squares = 0, absolute = 0, mass = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            if (float.IsNaN(targets[i])) continue;
            double s = weights[i / k];
            if (s == 0) continue;                                 // selected away: a weight-0 row adds nothing, even a non-finite error
            double e = ((double)predicted[i] - targets[i]) * (scale?[i % k] ?? 1.0);
            squares += s * e * e;
            absolute += s * Math.Abs(e);
            mass += s;
        }
        return mass > 0 ? (Math.Sqrt(squares / mass), absolute / mass) : (null, null);
    }

    /// <summary>Weighted accuracy Σ sᵣ·1[predictedᵢ = labelᵢ] / Σ sᵣ over the labelled entries (label ≥ 0) of a [rows × k]
    /// label matrix (k = 1: one class per row; k &gt; 1: a multi-label task's (row, label) pairs, row r = i / k).</summary>
    public static double? Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels, int k, ReadOnlySpan<float> weights)
    {
        Check(predicted.Length, labels.Length, k, weights.Length);
        double correct = 0, mass = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0) continue;
            double s = weights[i / k];
            mass += s;
            if (predicted[i] == labels[i]) correct += s;
        }
        return mass > 0 ? correct / mass : null;
    }

    /// <summary>
    /// Weighted precision, recall and F1 of a [rows × k] label matrix (k = 1: one of <paramref name="classes"/> classes per
    /// row; k &gt; 1: a multi-label task's (row, label) pairs, <paramref name="classes"/> = 2, row r = i / k): the confusion
    /// counts are weight sums, cell (y, ŷ) = Σ sᵣ over the labelled entries (label ≥ 0) with that label and prediction, so
    /// P = TP_w/(TP_w + FP_w), R = TP_w/(TP_w + FN_w), F1 = 2PR/(P + R), of class 1 for two classes, else the macro average
    /// over the classes (<see cref="ClassificationMetrics.FromConfusion"/>); k &gt; 1 pools the labels' counts (micro average).
    /// A ratio with a zero denominator is 0, as unweighted.
    /// </summary>
    public static (double Precision, double Recall, double F1) PrecisionRecallF1(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels,
        int classes, int k, ReadOnlySpan<float> weights)
    {
        Check(predicted.Length, labels.Length, k, weights.Length);
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least two classes.");
        var confusion = new double[classes, classes];   // [true, predicted]
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= 0) confusion[labels[i], predicted[i]] += weights[i / k];
        return ClassificationMetrics.FromConfusion(confusion);
    }

    /// <summary>
    /// Weighted R² = 1 − Σ sᵣmᵢ(ŷᵢ − yᵢ)² / Σ sᵣmᵢ(yᵢ − ȳⱼ)² of a [rows × k] regression, ȳⱼ = Σ sᵣmᵢyᵢ / Σ sᵣmᵢ the weighted
    /// mean of column j (mᵢ = 1 where yᵢ is not NaN), both sums pooled over the columns as the unweighted
    /// <see cref="ClassificationMetrics.RSquared"/>; null when the denominator is 0 (no weight mass, or a constant target).
    /// </summary>
    public static double? RSquared(ReadOnlySpan<float> predicted, ReadOnlySpan<float> targets, int k, ReadOnlySpan<float> weights)
    {
        Check(predicted.Length, targets.Length, k, weights.Length);
        double residual = 0, total = 0;
        for (int j = 0; j < k; j++)
        {
            double sum = 0, mass = 0;
            for (int i = j; i < targets.Length; i += k)
            {
                double s = weights[i / k];
                if (float.IsNaN(targets[i]) || s == 0) continue;
                sum += s * targets[i];
                mass += s;
            }
            if (mass == 0) continue;
            double mean = sum / mass;
            for (int i = j; i < targets.Length; i += k)
            {
                double s = weights[i / k];
                if (float.IsNaN(targets[i]) || s == 0) continue;   // a weight-0 row adds nothing, even a non-finite prediction
                double e = (double)predicted[i] - targets[i], d = targets[i] - mean;
                residual += s * e * e;
                total += s * d * d;
            }
        }
        return total == 0 ? null : 1 - residual / total;
    }

    /// <summary>Weighted mean Σ sᵣ·ℓᵢ / Σ sᵣ of per-entry losses over the entries <paramref name="labelled"/> marks, row r = i / k
    /// (the weighted log-loss, from the per-entry cross-entropies); 0 without weight mass, as the weighted losses are.</summary>
    public static double Mean(ReadOnlySpan<double> losses, ReadOnlySpan<bool> labelled, int k, ReadOnlySpan<float> weights)
    {
        Check(losses.Length, labelled.Length, k, weights.Length);
        double sum = 0, mass = 0;
        for (int i = 0; i < losses.Length; i++)
        {
            if (!labelled[i]) continue;
            double s = weights[i / k];
            if (s == 0) continue;
            sum += s * losses[i];
            mass += s;
        }
        return mass > 0 ? sum / mass : 0;
    }

    /// <summary>
    /// The weighted mean ROC AUC of a multi-label task's logits and labels [rows × k] (0, 1; negative = no label), row r's
    /// weight sᵣ shared by its k labels: per label j the weighted Mann–Whitney AUC
    /// <c>AUCⱼ = Σ_{r∈Pⱼ} Σ_{q∈Nⱼ} sᵣs_q(1[z_rj &gt; z_qj] + ½·1[z_rj = z_qj]) / (W₊ⱼW₋ⱼ)</c>
    /// (<see cref="ClassificationMetrics.Auc(ReadOnlySpan{double}, ReadOnlySpan{int}, ReadOnlySpan{double})"/>), then their
    /// unweighted mean over the labels that have weight on both classes, as the unweighted
    /// <see cref="ClassificationMetrics.MultiLabel"/> averages over the labels whose labelled rows hold both classes (a label
    /// whose positives or negatives all weigh 0 is left out, as it would be with those rows removed); null when no label has.
    /// </summary>
    public static double? MultiLabelAuc(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int k, ReadOnlySpan<float> weights)
    {
        Check(logits.Length, labels.Length, k, weights.Length);
        int rows = weights.Length, counted = 0;
        double sum = 0;
        var scores = new double[rows];
        var column = new int[rows];
        var w = new double[rows];
        for (int r = 0; r < rows; r++) w[r] = weights[r];
        for (int j = 0; j < k; j++)
        {
            for (int r = 0; r < rows; r++) (scores[r], column[r]) = (logits[r * k + j], labels[r * k + j]);
            if (ClassificationMetrics.Auc(scores, column, w) is { } auc) { sum += auc; counted++; }
        }
        return counted == 0 ? null : sum / counted;
    }

    /// <summary>The row weights as doubles, each repeated k times (one per entry of a [rows × k] matrix): the weights the
    /// weighted AUC (<see cref="ClassificationMetrics.Auc(ReadOnlySpan{double}, ReadOnlySpan{int}, ReadOnlySpan{double})"/>) takes.</summary>
    public static double[] PerEntry(ReadOnlySpan<float> weights, int k)
    {
        var w = new double[weights.Length * k];
        for (int i = 0; i < w.Length; i++) w[i] = weights[i / k];
        return w;
    }

    private static void Check(int a, int b, int k, int rows)
    {
        if (k <= 0) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be positive.");
        if (a != b || b != (long)rows * k)
            throw new ArgumentException($"{a} values and {b} targets do not form {rows} weighted rows of {k}.");
    }
}
