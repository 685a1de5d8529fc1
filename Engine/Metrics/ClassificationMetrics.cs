namespace Engine.Metrics;

/// <summary>
/// The metrics of classification and regression scores computed on the host from a split's predictions
/// (maths: docs/maths.md §19.4): ROC AUC exact with ties (Mann–Whitney U with mid-ranks), precision, recall and F1 of a
/// binary task and their macro average over the classes of a multi-class one, and R² = 1 − SS_res/SS_tot.
/// Rows whose label is negative (no label) are left out of every metric.
/// </summary>
public static class ClassificationMetrics
{
    /// <summary>
    /// The area under the ROC curve of <paramref name="scores"/> (higher = more likely class 1) against
    /// <paramref name="labels"/> (0, 1; negative = no label), exact with ties: AUC = P(s₊ &gt; s₋) + ½P(s₊ = s₋)
    /// = (R₊ − n₊(n₊ + 1)/2)/(n₊n₋), where R₊ is the sum of the positives' ranks among the labelled scores, tied
    /// scores sharing the mean of their ranks. Null when either class has no labelled row.
    /// </summary>
    public static double? Auc(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        if (scores.Length != labels.Length) throw new ArgumentException($"{scores.Length} scores for {labels.Length} labels.", nameof(labels));
        var labelled = new List<(double Score, int Label)>(scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            if (labels[i] < 0) continue;
            if (labels[i] > 1) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not 0 or 1.");
            if (double.IsNaN(scores[i])) throw new ArgumentException($"scores[{i}] is NaN.", nameof(scores));
            labelled.Add((scores[i], labels[i]));
        }
        labelled.Sort((a, b) => a.Score.CompareTo(b.Score));
        double positives = 0, rankSum = 0;
        for (int start = 0; start < labelled.Count;)
        {
            int end = start;
            while (end < labelled.Count && labelled[end].Score == labelled[start].Score) end++;
            double midRank = (start + 1 + end) / 2.0;          // ranks start+1 … end share their mean
            for (int i = start; i < end; i++)
                if (labelled[i].Label == 1) { positives++; rankSum += midRank; }
            start = end;
        }
        double negatives = labelled.Count - positives;
        if (positives == 0 || negatives == 0) return null;
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives);
    }

    /// <summary>
    /// The sample-weighted ROC AUC (maths §19.11), scikit-learn's <c>roc_auc_score(y, s, sample_weight=w)</c>: the trapezoidal
    /// area under the weighted ROC curve, which is the weighted pair count
    /// <c>AUC = Σ_{i∈P} Σ_{j∈N} wᵢwⱼ(1[sᵢ &gt; sⱼ] + ½·1[sᵢ = sⱼ]) / (W₊W₋)</c>, W₊/W₋ the positives'/negatives' total weight.
    /// Computed in one sort: tied scores form a group, a group's positive weight meets the negative weight below it in full
    /// and its own negative weight by half. Labels −1 are skipped; null when W₊ or W₋ is 0. Weights ≡ 1 give <see cref="Auc(ReadOnlySpan{double}, ReadOnlySpan{int})"/>.
    /// </summary>
    public static double? Auc(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        if (scores.Length != labels.Length || weights.Length != labels.Length)
            throw new ArgumentException($"{scores.Length} scores and {weights.Length} weights for {labels.Length} labels.", nameof(labels));
        var labelled = new List<(double Score, int Label, double Weight)>(scores.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            if (labels[i] < 0) continue;
            if (labels[i] > 1) throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"labels[{i}] = {labels[i]} is not 0 or 1.");
            if (double.IsNaN(scores[i])) throw new ArgumentException($"scores[{i}] is NaN.", nameof(scores));
            if (!(weights[i] >= 0) || !double.IsFinite(weights[i])) throw new ArgumentOutOfRangeException(nameof(weights), weights[i], $"weights[{i}] must be finite and ≥ 0.");
            labelled.Add((scores[i], labels[i], weights[i]));
        }
        labelled.Sort((a, b) => a.Score.CompareTo(b.Score));
        double negativesBelow = 0, positives = 0, area = 0;
        for (int start = 0; start < labelled.Count;)
        {
            int end = start;
            double groupPositive = 0, groupNegative = 0;
            for (; end < labelled.Count && labelled[end].Score == labelled[start].Score; end++)
                if (labelled[end].Label == 1) groupPositive += labelled[end].Weight; else groupNegative += labelled[end].Weight;
            area += groupPositive * (negativesBelow + 0.5 * groupNegative);
            positives += groupPositive;
            negativesBelow += groupNegative;
            start = end;
        }
        if (positives == 0 || negativesBelow == 0) return null;
        return area / (positives * negativesBelow);
    }

    /// <summary>Precision TP/(TP + FP), recall TP/(TP + FN) and F1 = 2PR/(P + R) of one positive class from its counts
    /// (or its weighted counts, maths §19.11); a ratio with a zero denominator is 0 (scikit-learn's <c>zero_division=0</c>).</summary>
    public static (double Precision, double Recall, double F1) PrecisionRecallF1(double truePositives, double falsePositives, double falseNegatives)
    {
        double p = truePositives + falsePositives == 0 ? 0 : truePositives / (truePositives + falsePositives);
        double r = truePositives + falseNegatives == 0 ? 0 : truePositives / (truePositives + falseNegatives);
        return (p, r, p + r == 0 ? 0 : 2 * p * r / (p + r));
    }

    /// <summary>
    /// Precision, recall and F1 from predicted and true classes (labelled rows only). Two classes: those of class 1
    /// (the positive class). More: their unweighted means over the C classes, each class in turn positive
    /// (macro average; F1 is the mean of the per-class F1, not the F1 of the mean P and R).
    /// </summary>
    public static (double Precision, double Recall, double F1) FromClasses(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels, int classes)
    {
        if (predicted.Length != labels.Length) throw new ArgumentException($"{predicted.Length} predictions for {labels.Length} labels.", nameof(labels));
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least two classes.");
        var confusion = new double[classes, classes]; // [true, predicted]
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= 0) confusion[labels[i], predicted[i]]++;
        return FromConfusion(confusion);
    }

    /// <summary>
    /// Precision, recall and F1 from a C × C confusion matrix [true, predicted] of counts or weight sums (maths §19.11):
    /// of class 1 when C = 2, else the macro average over the classes (as <see cref="FromClasses"/>).
    /// </summary>
    public static (double Precision, double Recall, double F1) FromConfusion(double[,] confusion)
    {
        int classes = confusion.GetLength(0);
        if (classes < 2 || confusion.GetLength(1) != classes)
            throw new ArgumentException($"A confusion matrix of {classes} × {confusion.GetLength(1)} is not square over at least two classes.", nameof(confusion));
        (double P, double R, double F) OfClass(int c)
        {
            double tp = confusion[c, c], fp = 0, fn = 0;
            for (int j = 0; j < classes; j++)
                if (j != c) { fp += confusion[j, c]; fn += confusion[c, j]; }
            return PrecisionRecallF1(tp, fp, fn);
        }
        if (classes == 2) return OfClass(1);
        double sp = 0, sr = 0, sf = 0;
        for (int c = 0; c < classes; c++)
        {
            var (p, r, f) = OfClass(c);
            sp += p; sr += r; sf += f;
        }
        return (sp / classes, sr / classes, sf / classes);
    }

    /// <summary>
    /// The metrics of a multi-label task from its logits and labels [rows × k] (0, 1; negative = no label): micro-averaged
    /// precision, recall and F1 of the predictions [z &gt; 0] over every labelled (row, label) pair (the counts pooled over
    /// the labels, scikit-learn's <c>average='micro'</c>), and the mean over the labels of each label's ROC AUC (the labels
    /// whose labelled rows hold both classes; null when none does: scikit-learn's <c>average='macro'</c> would fail there).
    /// </summary>
    public static (double Precision, double Recall, double F1, double? MeanAuc) MultiLabel(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int k)
    {
        if (logits.Length != labels.Length || k <= 0 || labels.Length % k != 0)
            throw new ArgumentException($"{logits.Length} logits for {labels.Length} labels in rows of {k}.", nameof(labels));
        var predicted = new int[logits.Length];
        for (int i = 0; i < logits.Length; i++) predicted[i] = logits[i] > 0 ? 1 : 0;
        var (p, r, f) = FromClasses(predicted, labels, 2);                 // pooled counts of class 1: the micro average
        int rows = labels.Length / k, counted = 0;
        double sum = 0;
        var scores = new double[rows];
        var column = new int[rows];
        for (int j = 0; j < k; j++)
        {
            for (int row = 0; row < rows; row++) (scores[row], column[row]) = (logits[row * k + j], labels[row * k + j]);
            if (Auc(scores, column) is { } auc) { sum += auc; counted++; }
        }
        return (p, r, f, counted == 0 ? null : sum / counted);
    }

    /// <summary>R² = 1 − SS_res/SS_tot with SS_res = Σ (ŷ − y)² and SS_tot = Σ (y − ȳ)² over the present (non-NaN)
    /// targets, ȳ their mean per column (k columns, row-major), both sums pooled over the columns; null when SS_tot = 0.</summary>
    public static double? RSquared(ReadOnlySpan<float> predicted, ReadOnlySpan<float> targets, int columns)
    {
        if (predicted.Length != targets.Length) throw new ArgumentException($"{predicted.Length} predictions for {targets.Length} targets.", nameof(targets));
        double residual = 0, total = 0;
        for (int j = 0; j < columns; j++)
        {
            double sum = 0;
            int n = 0;
            for (int i = j; i < targets.Length; i += columns) if (!float.IsNaN(targets[i])) { sum += targets[i]; n++; }
            if (n == 0) continue;
            double mean = sum / n;
            for (int i = j; i < targets.Length; i += columns)
            {
                if (float.IsNaN(targets[i])) continue;
                double e = (double)predicted[i] - targets[i], d = targets[i] - mean;
                residual += e * e;
                total += d * d;
            }
        }
        return total == 0 ? null : 1 - residual / total;
    }
}
