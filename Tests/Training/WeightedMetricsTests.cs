using Engine.Data;
using Engine.Experiments;
using Engine.Metrics;

namespace Engine.Tests.Training;

/// <summary>
/// The sample-weighted metrics (maths §19.11) against values computed by hand in float64: <see cref="WeightedMetrics"/>
/// (RMSE, MAE, accuracy, the weighted mean of per-entry losses, precision/recall/F1 of weighted confusion counts, R² about the
/// weighted mean, the multi-label mean AUC against a brute-force pair count; integer weights against the rows duplicated) and the report's <see cref="TaskScore"/> of a regression, a
/// classification, a binary and a multi-label task; weights ≡ 1 give the unweighted scores; no weight mass gives null.
/// </summary>
public class WeightedMetricsTests
{
    [Fact]
    public void Regression_errors_are_weighted_by_row()
    {
        // e = p − t = (−1, 0, 2, ·): the NaN target is no label. Σ s e² = 2·1 + 0 + 1·4 = 6, Σ s|e| = 2 + 0 + 2 = 4, Σ s = 4.
        var (rmse, mae) = WeightedMetrics.Regression([0f, 1f, 3f, 9f], [1f, 1f, 1f, float.NaN], 1, [2f, 1f, 1f, 5f]);
        Assert.Equal(Math.Sqrt(1.5), rmse!.Value, 1e-15);
        Assert.Equal(1.0, mae!.Value, 1e-15);
        // Two columns with scales σ = (1, 10): row 0 (s = 3) errors (1, 0.1) → (1, 1); row 1 (s = 1) errors (0, NaN target).
        var (rmse2, mae2) = WeightedMetrics.Regression([2f, 0.1f, 5f, 0f], [1f, 0f, 5f, float.NaN], 2, [3f, 1f], [1.0, 10.0]);
        // Σ s σ²e² = 3·1 + 3·1 + 0 = 6 over Σ s m = 3 + 3 + 1 = 7; Σ s σ|e| = 3 + 3 = 6 over 7.
        Assert.Equal(Math.Sqrt(6.0 / 7), rmse2!.Value, 1e-6);
        Assert.Equal(6.0 / 7, mae2!.Value, 1e-6);
        Assert.Equal((null, null), WeightedMetrics.Regression([1f], [2f], 1, [0f]));   // no weight mass
    }

    [Fact]
    public void Accuracy_and_loss_are_weighted_by_row()
    {
        // Correct on rows 0 (s = 1) and 1 (s = 3), wrong on row 2 (s = 2), row 3 unlabelled: 4 / 6.
        Assert.Equal(2.0 / 3, WeightedMetrics.Accuracy([0, 1, 1, 0], [0, 1, 0, -1], 1, [1f, 3f, 2f, 5f])!.Value, 1e-15);
        // Multi-label, k = 2: row 0 (s = 2) one of two right, row 1 (s = 1) its one label right: (2 + 1) / (2·2 + 1).
        Assert.Equal(3.0 / 5, WeightedMetrics.Accuracy([1, 0, 1, 1], [1, 1, 1, -1], 2, [2f, 1f])!.Value, 1e-15);
        Assert.Equal((2 * 1.0 + 3 * 4.0) / 5, WeightedMetrics.Mean([1.0, 4.0, 100.0], [true, true, false], 1, [2f, 3f, 7f]), 1e-15);
        Assert.Null(WeightedMetrics.Accuracy([1], [-1], 1, [1f]));
    }

    [Fact]
    public void Precision_recall_and_f1_take_weighted_confusion_counts()
    {
        // Binary: predicted 1 1 0 1 0 0, labels 1 0 1 1 0 −1, s = (2, 1, 3, ½, 4, 7): TP_w = 2 + ½ (rows 0, 3), FP_w = 1 (row 1),
        // FN_w = 3 (row 2); row 5 unlabelled. P = 2.5/3.5 = 5/7, R = 2.5/5.5 = 5/11, F1 = 2TP/(2TP + FP + FN) = 5/9.
        var (p, r, f1) = WeightedMetrics.PrecisionRecallF1([1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, -1], 2, 1, [2f, 1f, 3f, 0.5f, 4f, 7f]);
        Assert.Equal(5.0 / 7, p, 1e-15);
        Assert.Equal(5.0 / 11, r, 1e-15);
        Assert.Equal(5.0 / 9, f1, 1e-15);

        // Macro over 3 classes: labels 0 0 1 1 2 2, predicted 0 1 1 1 2 0, s = (1, 2, 3, 1, 2, 4).
        // class 0: TP 1, FP 4 (row 5), FN 2 (row 1) → P ⅕, R ⅓, F1 2/8.  class 1: TP 3 + 1, FP 2 (row 1), FN 0 → P ⅔, R 1, F1 0.8.
        // class 2: TP 2, FP 0, FN 4 (row 5) → P 1, R ⅓, F1 ½.
        var (mp, mr, mf) = WeightedMetrics.PrecisionRecallF1([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2], 3, 1, [1f, 2f, 3f, 1f, 2f, 4f]);
        Assert.Equal((0.2 + 2.0 / 3 + 1) / 3, mp, 1e-15);
        Assert.Equal((1.0 / 3 + 1 + 1.0 / 3) / 3, mr, 1e-15);
        Assert.Equal((0.25 + 0.8 + 0.5) / 3, mf, 1e-15);

        // Multi-label, k = 2, micro: row 0 (s = 2) labels (1, 1) predicted (1, 0): TP 2, FN 2; row 1 (s = 3) labels (0, ·)
        // predicted (1, 1): FP 3. P = 2/5, R = 2/4, F1 = 4/(4 + 3 + 2).
        var (lp, lr, lf) = WeightedMetrics.PrecisionRecallF1([1, 0, 1, 1], [1, 1, 0, -1], 2, 2, [2f, 3f]);
        Assert.Equal((0.4, 0.5), (lp, lr));
        Assert.Equal(4.0 / 9, lf, 1e-15);

        // No weight on a predicted or true positive: every ratio's denominator is 0 → 0, as unweighted.
        Assert.Equal((0.0, 0.0, 0.0), WeightedMetrics.PrecisionRecallF1([1, 0], [1, 0], 2, 1, [0f, 5f]));
    }

    [Fact]
    public void R_squared_is_taken_about_the_weighted_mean()
    {
        // y = 1 2 3 (NaN skipped), ŷ = 1 2 4, s = (3, 1, 1, 5): ȳ_w = (3 + 2 + 3)/5 = 1.6, SS_tot = 3·0.36 + 0.16 + 1.96 = 3.2,
        // SS_res = 1·1 → R² = 1 − 1/3.2 = 0.6875.
        Assert.Equal(0.6875, WeightedMetrics.RSquared([1f, 2f, 4f, 9f], [1f, 2f, 3f, float.NaN], 1, [3f, 1f, 1f, 5f])!.Value, 1e-15);
        // Two columns, s = (1, 2, 1, 0); row 3 weighs 0 (its NaN predictions add nothing). Column 0: y = 1 3 5, ȳ_w = 12/4 = 3,
        // SS_tot 4 + 0 + 4 = 8, SS_res 1; column 1: y = 10 · 20, ȳ_w = 15, SS_tot 25 + 25 = 50, SS_res 16 → R² = 1 − 17/58.
        float[] y = [1f, 10f, 3f, float.NaN, 5f, 20f, 100f, 100f];
        float[] yHat = [2f, 10f, 3f, 0f, 5f, 16f, float.NaN, float.NaN];
        Assert.Equal(41.0 / 58, WeightedMetrics.RSquared(yHat, y, 2, [1f, 2f, 1f, 0f])!.Value, 1e-15);
        Assert.Null(WeightedMetrics.RSquared([1f, 2f], [1f, 3f], 1, [0f, 0f]));    // no weight mass
        Assert.Null(WeightedMetrics.RSquared([1f, 2f], [1f, 3f], 1, [2f, 0f]));    // one weighted value: SS_tot = 0
    }

    /// <summary>Integer weights 0 to 3 give the unweighted P/R/F1 (binary, macro over 4 classes, micro over 3 labels) and R²
    /// (2 columns with missing targets) of the rows written that many times (rtol 1e-12: the sums are added in another order).</summary>
    [Fact]
    public void Integer_weights_score_as_the_rows_duplicated()
    {
        var rng = new Random(14);
        const int rows = 60;
        var times = Enumerable.Range(0, rows).Select(_ => rng.Next(4)).ToArray();
        var weights = Array.ConvertAll(times, t => (float)t);
        T[] Repeat<T>(T[] values, int k) =>
            [.. Enumerable.Range(0, rows).SelectMany(r => Enumerable.Repeat(r, times[r])).SelectMany(r => values.Skip(r * k).Take(k))];
        int[] Classes(int n, int classes) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(-1, classes))];   // −1: no label
        static void Close((double, double, double) a, (double, double, double) b)
        {
            Assert.Equal(a.Item1, b.Item1, 1e-12);
            Assert.Equal(a.Item2, b.Item2, 1e-12);
            Assert.Equal(a.Item3, b.Item3, 1e-12);
        }
        foreach (int classes in new[] { 2, 4 })
        {
            var labels = Classes(rows, classes);
            var predicted = Array.ConvertAll(Classes(rows, classes), c => Math.Max(c, 0));
            Close(ClassificationMetrics.FromClasses(Repeat(predicted, 1), Repeat(labels, 1), classes),
                WeightedMetrics.PrecisionRecallF1(predicted, labels, classes, 1, weights));
        }
        var tags = Classes(3 * rows, 2);
        var decisions = Array.ConvertAll(Classes(3 * rows, 2), c => Math.Max(c, 0));
        Close(ClassificationMetrics.FromClasses(Repeat(decisions, 3), Repeat(tags, 3), 2),
            WeightedMetrics.PrecisionRecallF1(decisions, tags, 2, 3, weights));

        var y = new float[2 * rows];
        var yHat = new float[2 * rows];
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = i % 7 == 3 ? float.NaN : (float)(3 * rng.NextDouble() + i % 2 * 10);
            yHat[i] = y[i] + (float)(rng.NextDouble() - 0.5);
        }
        Assert.Equal(ClassificationMetrics.RSquared(Repeat(yHat, 2), Repeat(y, 2), 2)!.Value, WeightedMetrics.RSquared(yHat, y, 2, weights)!.Value, 1e-12);
    }

    /// <summary>Weights ≡ 1: the unweighted score bit for bit (1·x = x, the same sums in the same order), the AUC to 1e-12
    /// (the weighted pair count is another computation).</summary>
    private static void Same(TaskScore plain, TaskScore ones)
    {
        Assert.False(plain.Weighted);
        Assert.True(ones.Weighted);
        Assert.Equal(plain.Rows, ones.Rows);
        Assert.Equal(plain.Loss, ones.Loss);
        Assert.Equal(plain.Rmse, ones.Rmse);
        Assert.Equal(plain.Mae, ones.Mae);
        Assert.Equal(plain.Accuracy, ones.Accuracy);
        Assert.Equal(plain.LogLoss, ones.LogLoss);
        Assert.Equal(plain.Precision, ones.Precision);
        Assert.Equal(plain.Recall, ones.Recall);
        Assert.Equal(plain.F1, ones.F1);
        Assert.Equal(plain.RSquared, ones.RSquared);
        Assert.Equal(plain.Auc.HasValue, ones.Auc.HasValue);
        if (plain.Auc is { } auc) Assert.Equal(auc, ones.Auc!.Value, 1e-12);
    }

    [Fact]
    public void Task_scores_are_weighted_and_weights_of_one_change_nothing()
    {
        // Binary: logits z = (0, ln 3, 2), labels (1, 0, −1), s = (1, 3, 4). ℓ = (ln 2, ln 4, ·): loss (ln 2 + 3 ln 4)/4 = 7 ln 2 / 4;
        // predictions z > 0: (0, 1): both wrong → accuracy 0. AUC: the positive's score 0 < the negative's ln 3 → 0.
        var binary = new ClassTargets("b", "b", new LabelMap(["0", "1"]), [1, 0, -1], TaskKind.Binary);
        float[] z = [0f, (float)Math.Log(3), 2f];
        var b = TaskScore.Binary(binary, z, [1f, 3f, 4f]);
        Assert.True(b.Weighted);
        Assert.Equal(7 * Math.Log(2) / 4, b.Loss, 1e-6);
        Assert.Equal(b.Loss, b.LogLoss!.Value);
        Assert.Equal(0.0, b.Accuracy!.Value);
        Assert.Equal(0.0, b.Auc!.Value);
        Same(TaskScore.Binary(binary, z), TaskScore.Binary(binary, z, [1f, 1f, 1f]));
        var massless = TaskScore.Binary(binary, z, [0f, 0f, 4f]);   // no weight on a labelled row: 0, as a split without labels scores
        Assert.Equal((0.0, 0.0), (massless.Loss, massless.Accuracy!.Value));

        // Classification, 2 classes: p(label) = (0.5, 0.25, 0.8), s = (2, 0, 1): loss (2 ln 2 + ln 1.25)/3, accuracy: rows 0 (tie →
        // class 0 = label) and 2 right, row 1 weighs 0 → 3/3.
        var classes = new ClassTargets("c", "c", new LabelMap(["a", "b"]), [0, 1, 1]);
        float[] p = [0.5f, 0.5f, 0.75f, 0.25f, 0.2f, 0.8f];
        var c = TaskScore.Classification(classes, p, [2f, 0f, 1f]);
        Assert.Equal((2 * Math.Log(2) + Math.Log(1.25)) / 3, c.Loss, 1e-6);
        Assert.Equal(1.0, c.Accuracy!.Value);
        Assert.Equal((1.0, 1.0, 1.0), (c.Precision!.Value, c.Recall!.Value, c.F1!.Value));   // class 1: row 2 (s = 1) a TP, row 1 weighs 0
        Same(TaskScore.Classification(classes, p), TaskScore.Classification(classes, p, [1f, 1f, 1f]));

        // Regression in original units (σ = 2, μ = 0): errors (1, −3), s = (3, 1): RMSE √((3 + 9)/4), MAE (3 + 3)/4, loss of z = e/σ: (3·¼ + 9/4)/4.
        var regression = new RegressionTargets("y", ["y"], [1f, 2f]);
        var scale = new Standardizer([0.0], [2.0]);
        var r = TaskScore.Regression(regression, [2f, -1f], scale, weights: [3f, 1f]);
        Assert.Equal(Math.Sqrt(3.0), r.Rmse!.Value, 1e-12);
        Assert.Equal(1.5, r.Mae!.Value, 1e-12);
        Assert.Equal((3 * 0.25 + 2.25) / 4, r.Loss, 1e-12);
        // ȳ_w = (3·1 + 2)/4 = 1.25: SS_tot = 3·0.0625 + 0.5625 = 0.75, SS_res = 3·1 + 9 = 12 → R² = 1 − 16.
        Assert.Equal(-15.0, r.RSquared!.Value, 1e-12);
        Same(TaskScore.Regression(regression, [2f, -1f], scale), TaskScore.Regression(regression, [2f, -1f], scale, weights: [1f, 1f]));

        // Multi-label, k = 2: label 0 has a tie, z = (1, 1) for labels (1, 0) → ½·1·3/(1·3) = ½; label 1 ranks its positive
        // (s = 3, z = 1) above its negative (s = 1, z = −1) → 1; the mean of the two: ¾.
        var tags = new MultiLabelTargets("m", ["m0", "m1"], [1, 0, 0, 1]);
        var m = TaskScore.MultiLabel(tags, [1f, -1f, 1f, 1f], [1f, 3f]);
        Assert.Equal((2 * 1 + 3 * 1) / 8.0, m.Accuracy!.Value, 1e-15);   // row 0 (s = 1): both right; row 1 (s = 3): one of two
        Assert.Equal(0.75, m.Auc!.Value, 1e-15);
        // Micro P/R/F1, predictions (1, 0 | 1, 1): row 0 (s = 1) a TP and a TN, row 1 (s = 3) an FP and a TP → TP 4, FP 3, FN 0.
        Assert.Equal(4.0 / 7, m.Precision!.Value, 1e-15);
        Assert.Equal(1.0, m.Recall!.Value);
        Assert.Equal(8.0 / 11, m.F1!.Value, 1e-15);
        var ones = TaskScore.MultiLabel(tags, [1f, -1f, 1f, 1f], [1f, 1f]);
        var plain = TaskScore.MultiLabel(tags, [1f, -1f, 1f, 1f]);
        Assert.Equal((plain.Precision, plain.Recall, plain.F1, plain.Auc), (ones.Precision, ones.Recall, ones.F1, ones.Auc));
    }

    /// <summary>The weighted multi-label AUC by hand: 4 rows × 3 labels, s = (1, 2, 3, 1).
    /// Label 0: positives z = 0.9 (s 1), 0.4 (s 2); negatives 0.4 (s 3), 0.1 (s 1): pairs 1·3 + 1·1 + ½·2·3 (the tie) + 2·1 = 9
    /// over W₊W₋ = 3·4 → ¾ (unweighted: 3.5/4). Label 1: row 2 has no label; positive 0.8 (s 2), negatives 0.2 (s 1) and
    /// 0.9 (s 1): 2·1 + 0 = 2 over 2·2 → ½. Label 2 has only positives (row 1 unlabelled): left out, as unweighted.
    /// Mean (¾ + ½)/2 = 0.625.</summary>
    [Fact]
    public void The_weighted_multi_label_auc_by_hand()
    {
        float[] logits = [0.9f, 0.2f, 0f, 0.4f, 0.8f, 0f, 0.4f, -0.5f, 0f, 0.1f, 0.9f, 0f];
        int[] labels = [1, 0, 1, 1, 1, -1, 0, -1, 1, 0, 0, 1];
        Assert.Equal(0.625, WeightedMetrics.MultiLabelAuc(logits, labels, 3, [1f, 2f, 3f, 1f])!.Value, 1e-15);
        Assert.Equal((0.875 + 0.5) / 2, WeightedMetrics.MultiLabelAuc(logits, labels, 3, [1f, 1f, 1f, 1f])!.Value, 1e-15);
        Assert.Equal(ClassificationMetrics.MultiLabel(logits, labels, 3).MeanAuc, WeightedMetrics.MultiLabelAuc(logits, labels, 3, [1f, 1f, 1f, 1f]));
        // s = (0, 2, 3, 0): label 1's negatives (rows 0 and 3) weigh 0, so it is left out too; label 0 keeps the positive
        // 0.4 (s 2) and the negative 0.4 (s 3), a tie: ½·2·3/(2·3) = ½, the mean of one label.
        Assert.Equal(0.5, WeightedMetrics.MultiLabelAuc(logits, labels, 3, [0f, 2f, 3f, 0f])!.Value, 1e-15);
        Assert.Null(WeightedMetrics.MultiLabelAuc(logits, labels, 3, [0f, 0f, 0f, 0f]));   // no weight mass: no label counts
        Assert.Throws<ArgumentException>(() => WeightedMetrics.MultiLabelAuc(logits, labels, 3, [1f, 1f, 1f]));
    }

    /// <summary>The weighted multi-label AUC against a float64 brute force over every weighted (positive, negative) pair of
    /// each label, Σ sᵣs_q(1[z_r &gt; z_q] + ½·1[z_r = z_q]) / (W₊W₋), averaged over the labels with W₊W₋ &gt; 0: 200 rows × 4
    /// labels, logits on a grid of 21 values (many ties), a fifth of the labels missing, weights in [0, 3) with a tenth 0,
    /// and a label with positives of weight 0 only. rtol 1e-12: the same double sums in another order.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void The_weighted_multi_label_auc_equals_the_brute_force_pair_count(int seed)
    {
        const int rows = 200, k = 4;
        var rng = new Random(seed);
        var logits = new float[rows * k];
        var labels = new int[rows * k];
        var weights = new float[rows];
        for (int r = 0; r < rows; r++) weights[r] = rng.NextDouble() < 0.1 ? 0f : (float)(3 * rng.NextDouble());
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (rng.Next(21) - 10) / 4f;
            labels[i] = rng.NextDouble() < 0.2 ? -1 : rng.NextDouble() < 0.4 + 0.1 * (i % k) ? 1 : 0;
            if (i % k == 3 && labels[i] == 1 && i / k % 7 != 0) labels[i] = 0;   // label 3: positives only on rows 7m …
        }
        for (int r = 0; r < rows; r += 7) weights[r] = 0f;                     // … which all weigh 0: label 3 is left out

        double sum = 0;
        int counted = 0;
        for (int j = 0; j < k; j++)
        {
            double pairs = 0, positive = 0, negative = 0;
            for (int r = 0; r < rows; r++)
            {
                if (labels[r * k + j] == 1) positive += weights[r];
                else if (labels[r * k + j] == 0) negative += weights[r];
            }
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < rows; q++)
                {
                    if (labels[r * k + j] != 1 || labels[q * k + j] != 0) continue;
                    double zr = logits[r * k + j], zq = logits[q * k + j];
                    pairs += (double)weights[r] * weights[q] * (zr > zq ? 1 : zr == zq ? 0.5 : 0);
                }
            if (j == 3) Assert.Equal(0.0, positive);
            if (positive * negative == 0) continue;
            sum += pairs / (positive * negative);
            counted++;
        }
        Assert.Equal(3, counted);
        double expected = sum / counted;
        double actual = WeightedMetrics.MultiLabelAuc(logits, labels, k, weights)!.Value;
        Assert.True(Math.Abs(actual - expected) <= 1e-12 * expected, $"{actual:R} vs brute force {expected:R}");
    }

    /// <summary>Integer weights (0 to 3) give the unweighted multi-label mean AUC of the rows written that many times (a
    /// weight-0 row removed), ties and missing labels included; rtol 1e-12.</summary>
    [Fact]
    public void Integer_weights_give_the_multi_label_auc_of_the_duplicated_rows()
    {
        const int rows = 90, k = 3;
        var rng = new Random(9);
        var logits = new float[rows * k];
        var labels = new int[rows * k];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (rng.Next(11) - 5) / 2f;
            labels[i] = rng.NextDouble() < 0.15 ? -1 : rng.Next(2);
        }
        var times = Enumerable.Range(0, rows).Select(_ => rng.Next(4)).ToArray();
        var repeated = Enumerable.Range(0, rows).SelectMany(r => Enumerable.Repeat(r, times[r])).ToArray();
        var duplicatedLogits = repeated.SelectMany(r => logits.Skip(r * k).Take(k)).ToArray();
        var duplicatedLabels = repeated.SelectMany(r => labels.Skip(r * k).Take(k)).ToArray();
        double expected = ClassificationMetrics.MultiLabel(duplicatedLogits, duplicatedLabels, k).MeanAuc!.Value;
        double actual = WeightedMetrics.MultiLabelAuc(logits, labels, k, Array.ConvertAll(times, t => (float)t))!.Value;
        Assert.True(Math.Abs(actual - expected) <= 1e-12 * expected, $"{actual:R} vs duplicated {expected:R}");
    }
}
