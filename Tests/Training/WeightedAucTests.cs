using Engine.Metrics;

namespace Engine.Tests.Training;

/// <summary>
/// The sample-weighted ROC AUC (maths §19.11; scikit-learn's <c>roc_auc_score(sample_weight=…)</c>): a hand-derived example
/// with a tie, the weighted pair count written out here, integer weights equal to duplicated rows under the unweighted AUC,
/// weights ≡ 1 equal to the unweighted AUC, and null when one class has no weight. Tolerance 12 digits (float64 sums).
/// </summary>
public class WeightedAucTests
{
    /// <summary>Positives (0.8, w 2), (0.4, w 1); negatives (0.4, w 3), (0.1, w 1). Pairs: 0.8 beats both negatives
    /// (2·3 + 2·1 = 8); 0.4 ties 0.4 (½·1·3 = 1.5) and beats 0.1 (1·1 = 1). AUC = 10.5 / (3·4) = 0.875.</summary>
    [Fact]
    public void Hand_derived_example_with_a_tie()
    {
        var auc = ClassificationMetrics.Auc([0.8, 0.4, 0.4, 0.1, 5], [1, 1, 0, 0, -1], [2, 1, 3, 1, 7]);
        Assert.Equal(0.875, auc!.Value, 12);
    }

    private static double PairCount(double[] s, int[] y, double[] w)
    {
        double num = 0, wp = 0, wn = 0;
        for (int i = 0; i < s.Length; i++) { if (y[i] == 1) wp += w[i]; else if (y[i] == 0) wn += w[i]; }
        for (int i = 0; i < s.Length; i++)
            for (int j = 0; j < s.Length; j++)
                if (y[i] == 1 && y[j] == 0) num += w[i] * w[j] * (s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0);
        return num / (wp * wn);
    }

    [Fact]
    public void Matches_the_weighted_pair_count_and_duplicated_rows()
    {
        var rng = new Random(14);
        int checkedTrials = 0;
        for (int trial = 0; trial < 20; trial++)
        {
            int n = 5 + trial * 3;
            var s = Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble() * 4) / 4).ToArray();   // many ties
            var y = Enumerable.Range(0, n).Select(i => i % 9 == 4 ? -1 : i % 2).ToArray();
            var w = Enumerable.Range(0, n).Select(_ => (double)rng.Next(0, 4)).ToArray();
            if (w.Where((v, i) => y[i] == 1).Sum() == 0 || w.Where((v, i) => y[i] == 0).Sum() == 0) continue;
            checkedTrials++;
            var weighted = ClassificationMetrics.Auc(s, y, w)!.Value;
            Assert.Equal(PairCount(s, y, w), weighted, 12);
            var ds = new List<double>(); var dy = new List<int>();
            for (int i = 0; i < n; i++) for (int c = 0; c < (int)w[i]; c++) { ds.Add(s[i]); dy.Add(y[i]); }
            Assert.Equal(ClassificationMetrics.Auc(ds.ToArray(), dy.ToArray())!.Value, weighted, 12);
            Assert.Equal(ClassificationMetrics.Auc(s, y)!.Value, ClassificationMetrics.Auc(s, y, Enumerable.Repeat(1.0, n).ToArray())!.Value, 12);
        }
        Assert.True(checkedTrials >= 15, $"only {checkedTrials} trials had weight on both classes");
    }

    [Fact]
    public void No_weight_on_one_class_is_undefined()
    {
        Assert.Null(ClassificationMetrics.Auc([0.2, 0.7, 0.1], [1, 0, 0], [0, 1, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.Auc([0.2, 0.7], [1, 0], [-1, 1]));
    }
}
