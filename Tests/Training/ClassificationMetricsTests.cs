using Engine.Metrics;

namespace Engine.Tests.Training;

/// <summary>
/// AUC, precision/recall/F1 and R² against examples worked by hand (the arithmetic is in the comments), and AUC against
/// its definition by pair counting on random tied scores.
/// </summary>
public class ClassificationMetricsTests
{
    [Fact]
    public void Auc_of_a_tied_example_by_hand()
    {
        // scores 0.1 0.4 0.4 0.8, labels 0 0 1 1 (+ one unlabelled row). Pairs (positive, negative): (0.4, 0.1) win,
        // (0.4, 0.4) tie = ½, (0.8, 0.1) win, (0.8, 0.4) win → (3 + ½)/4 = 0.875.
        // Mid-ranks: 1, 2.5, 2.5, 4; R₊ = 2.5 + 4 = 6.5; U = 6.5 − 2·3/2 = 3.5; 3.5/(2·2) = 0.875.
        Assert.Equal(0.875, ClassificationMetrics.Auc([0.1, 0.4, 0.4, 0.8, 0.9], [0, 0, 1, 1, -1])!.Value, 15);
    }

    [Fact]
    public void Auc_is_one_for_a_perfect_ranking_zero_for_a_reversed_one_one_half_for_all_ties_and_null_for_one_class()
    {
        Assert.Equal(1.0, ClassificationMetrics.Auc([1, 2, 3, 4], [0, 0, 1, 1]));
        Assert.Equal(0.0, ClassificationMetrics.Auc([4, 3, 2, 1], [0, 0, 1, 1]));
        Assert.Equal(0.5, ClassificationMetrics.Auc([7, 7, 7, 7, 7], [0, 1, 1, 0, 1]));
        Assert.Null(ClassificationMetrics.Auc([1, 2, 3], [1, 1, -1]));
    }

    [Fact]
    public void Auc_equals_the_pair_count_definition_on_random_tied_scores()
    {
        var rng = new Random(5);
        var scores = Enumerable.Range(0, 300).Select(_ => (double)rng.Next(20)).ToArray(); // many ties
        var labels = Enumerable.Range(0, 300).Select(_ => rng.Next(3) - 1).ToArray();      // −1, 0, 1
        double wins = 0, pairs = 0;
        for (int i = 0; i < scores.Length; i++)
            for (int j = 0; j < scores.Length; j++)
                if (labels[i] == 1 && labels[j] == 0)
                {
                    pairs++;
                    wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                }
        Assert.Equal(wins / pairs, ClassificationMetrics.Auc(scores, labels)!.Value, 12);
    }

    [Fact]
    public void Binary_precision_recall_and_f1_by_hand()
    {
        // predicted 1 1 0 1 0 0, labels 1 0 1 1 0 −1: TP = 2 (rows 0, 3), FP = 1 (row 1), FN = 1 (row 2); row 5 unlabelled.
        // P = 2/3, R = 2/3, F1 = 2/3.
        var (p, r, f1) = ClassificationMetrics.FromClasses([1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, -1], 2);
        Assert.Equal(2.0 / 3, p, 15);
        Assert.Equal(2.0 / 3, r, 15);
        Assert.Equal(2.0 / 3, f1, 15);
        // TP = 1, FP = 3, FN = 0: P = 1/4, R = 1, F1 = 2·(1/4)/(5/4) = 0.4; nothing predicted positive: P = R = F1 = 0.
        Assert.Equal((0.25, 1.0, 0.4), ClassificationMetrics.PrecisionRecallF1(1, 3, 0));
        Assert.Equal((0.0, 0.0, 0.0), ClassificationMetrics.PrecisionRecallF1(0, 0, 2));
    }

    [Fact]
    public void Macro_f1_is_the_mean_of_the_per_class_f1()
    {
        // labels 0 0 1 1 2 2, predicted 0 1 1 1 2 0.
        // class 0: TP 1, FP 1 (row 5), FN 1 (row 1) → P ½, R ½, F1 ½.
        // class 1: TP 2, FP 1 (row 1), FN 0 → P ⅔, R 1, F1 0.8.
        // class 2: TP 1, FP 0, FN 1 → P 1, R ½, F1 ⅔.
        var (p, r, f1) = ClassificationMetrics.FromClasses([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2], 3);
        Assert.Equal((0.5 + 2.0 / 3 + 1) / 3, p, 15);
        Assert.Equal((0.5 + 1 + 0.5) / 3, r, 15);
        Assert.Equal((0.5 + 0.8 + 2.0 / 3) / 3, f1, 15);
    }

    [Fact]
    public void R_squared_by_hand_skipping_missing_targets()
    {
        // y = 1 2 3 (NaN skipped), ŷ = 1 2 4: ȳ = 2, SS_tot = 1 + 0 + 1 = 2, SS_res = 0 + 0 + 1 = 1 → R² = 1 − 1/2 = 0.5.
        Assert.Equal(0.5, ClassificationMetrics.RSquared([1, 2, 4, 9], [1, 2, 3, float.NaN], 1)!.Value, 15);
        // Predicting the mean gives 0; a constant target has no R².
        Assert.Equal(0.0, ClassificationMetrics.RSquared([2, 2, 2], [1, 2, 3], 1)!.Value, 15);
        Assert.Null(ClassificationMetrics.RSquared([1, 2], [5, 5], 1));
    }
}
