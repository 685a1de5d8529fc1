using Engine.Data;
using Engine.Experiments;
using Engine.Metrics;

namespace Engine.Tests.Training;

/// <summary>
/// The sample-weighted metrics (maths §19.11) against values computed by hand in float64: <see cref="WeightedMetrics"/>
/// (RMSE, MAE, accuracy, the weighted mean of per-entry losses) and the report's <see cref="TaskScore"/> of a regression, a
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
        Same(TaskScore.Classification(classes, p), TaskScore.Classification(classes, p, [1f, 1f, 1f]));

        // Regression in original units (σ = 2, μ = 0): errors (1, −3), s = (3, 1): RMSE √((3 + 9)/4), MAE (3 + 3)/4, loss of z = e/σ: (3·¼ + 9/4)/4.
        var regression = new RegressionTargets("y", ["y"], [1f, 2f]);
        var scale = new Standardizer([0.0], [2.0]);
        var r = TaskScore.Regression(regression, [2f, -1f], scale, weights: [3f, 1f]);
        Assert.Equal(Math.Sqrt(3.0), r.Rmse!.Value, 1e-12);
        Assert.Equal(1.5, r.Mae!.Value, 1e-12);
        Assert.Equal((3 * 0.25 + 2.25) / 4, r.Loss, 1e-12);
        Same(TaskScore.Regression(regression, [2f, -1f], scale), TaskScore.Regression(regression, [2f, -1f], scale, weights: [1f, 1f]));

        // Multi-label, k = 2: the AUC is not weighted, so not reported with weights.
        var tags = new MultiLabelTargets("m", ["m0", "m1"], [1, 0, 0, 1]);
        var m = TaskScore.MultiLabel(tags, [1f, -1f, 1f, 1f], [1f, 3f]);
        Assert.Equal((2 * 1 + 3 * 1) / 8.0, m.Accuracy!.Value, 1e-15);   // row 0 (s = 1): both right; row 1 (s = 3): one of two
        Assert.Null(m.Auc);
    }
}
