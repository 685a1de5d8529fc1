using Engine.Data;
using Engine.Experiments;

namespace Engine.Tests.Experiments;

/// <summary>Δm = (1/T)·Σᵢ (−1)^{lᵢ}·(M_mtl,i − M_stl,i)/M_stl,i·100 against numbers worked out by hand.</summary>
public class MultiTaskGainTests
{
    private static TaskScore Regression(string task, double rmse) => new(task, TaskKind.Regression, 10, 0, rmse, rmse, null);
    private static TaskScore Classification(string task, double accuracy) => new(task, TaskKind.Classification, 10, 0, null, null, accuracy);

    [Fact]
    public void Delta_m_matches_a_hand_computation_with_one_error_and_one_accuracy()
    {
        // Regression: RMSE 0.9 (MTL) vs 1.0 (STL): lower is better, l = 1: −(0.9 − 1.0)/1.0·100 = +10 %.
        // Classification: accuracy 0.95 vs 0.90, l = 0: (0.95 − 0.90)/0.90·100 = +5.5555… %.
        // Δm = (10 + 5.5555…)/2 = 7.7777… %.
        var (gains, deltaM) = MultiTaskGain.Compute(
            [Regression("y", 0.9), Classification("c", 0.95)],
            [Classification("c", 0.90), Regression("y", 1.0)]); // order of the single-task list does not matter

        Assert.Equal(2, gains.Count);
        Assert.Equal("y", gains[0].Task);
        Assert.Equal("rmse", gains[0].Metric);
        Assert.True(gains[0].LowerIsBetter);
        Assert.Equal(10.0, gains[0].GainPercent, 12);
        Assert.Equal("accuracy", gains[1].Metric);
        Assert.False(gains[1].LowerIsBetter);
        Assert.Equal(50.0 / 9.0, gains[1].GainPercent, 12);
        Assert.Equal((10.0 + 50.0 / 9.0) / 2, deltaM, 12);
    }

    [Fact]
    public void A_worse_multi_task_error_counts_against_it()
    {
        // RMSE 1.2 vs 1.0 → −20 %; RMSE 2.0 vs 2.5 → +20 %; Δm = 0.
        var (gains, deltaM) = MultiTaskGain.Compute([Regression("a", 1.2), Regression("b", 2.0)], [Regression("a", 1.0), Regression("b", 2.5)]);
        Assert.Equal(-20.0, gains[0].GainPercent, 12);
        Assert.Equal(20.0, gains[1].GainPercent, 12);
        Assert.Equal(0.0, deltaM, 12);
    }

    [Fact]
    public void A_lower_accuracy_counts_against_it()
    {
        Assert.Equal(-10.0, MultiTaskGain.RelativeGainPercent(0.81, 0.9, lowerIsBetter: false), 12);
        Assert.Equal(25.0, MultiTaskGain.RelativeGainPercent(0.75, 1.0, lowerIsBetter: true), 12);
    }

    [Fact]
    public void A_task_without_a_single_task_score_is_an_error_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => MultiTaskGain.Compute([Regression("a", 1), Regression("b", 1)], [Regression("a", 1)]));
        Assert.Contains("'b'", e.Message);
    }
}
