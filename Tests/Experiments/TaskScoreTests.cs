using Engine.Data;
using Engine.Experiments;

namespace Engine.Tests.Experiments;

/// <summary>Per-task metrics in original units against hand-computed values.</summary>
public class TaskScoreTests
{
    [Fact]
    public void Regression_rmse_mae_and_standardized_loss_match_hand_values()
    {
        // Two rows × two outputs; errors ŷ − y = (1, −2 | 0, 3) in original units.
        // RMSE = √((1 + 4 + 0 + 9)/4) = √3.5; MAE = (1 + 2 + 0 + 3)/4 = 1.5.
        // σ = (2, 4): standardized errors (0.5, −0.5 | 0, 0.75); loss = (0.25 + 0.25 + 0 + 0.5625)/4 = 0.265625.
        var targets = new RegressionTargets("t", ["a", "b"], [10f, 20f, 30f, 40f]);
        var predicted = new[] { 11f, 18f, 30f, 43f };
        var scale = new Standardizer([0.0, 0.0], [2.0, 4.0]);

        var s = TaskScore.Regression(targets, predicted, scale);

        Assert.Equal(2, s.Rows);
        Assert.Equal(Math.Sqrt(3.5), s.Rmse!.Value, 12);
        Assert.Equal(1.5, s.Mae!.Value, 12);
        Assert.Equal(0.265625, s.Loss, 12);
        Assert.Null(s.Accuracy);
        Assert.Equal(s.Rmse, s.Primary);
    }

    [Fact]
    public void Classification_accuracy_and_cross_entropy_match_hand_values()
    {
        // Three rows, two classes; labels 0, 1, 1; p(label) = 0.8, 0.3, 0.6; argmax right on rows 1 and 3.
        // accuracy = 2/3; CE = −(ln 0.8 + ln 0.3 + ln 0.6)/3.
        var targets = new ClassTargets("c", "c", new LabelMap(["x", "y"]), [0, 1, 1]);
        var probabilities = new[] { 0.8f, 0.2f, 0.7f, 0.3f, 0.4f, 0.6f };

        var s = TaskScore.Classification(targets, probabilities);

        Assert.Equal(2.0 / 3.0, s.Accuracy!.Value, 12);
        double expected = -(Math.Log(0.8f) + Math.Log(0.3f) + Math.Log(0.6f)) / 3;
        Assert.Equal(expected, s.Loss, 12);
        Assert.Null(s.Rmse);
        Assert.Equal(s.Accuracy, s.Primary);
    }

    [Fact]
    public void A_probability_that_rounded_to_zero_gives_a_finite_loss()
    {
        var targets = new ClassTargets("c", "c", new LabelMap(["x", "y"]), [1]);
        var s = TaskScore.Classification(targets, [1f, 0f]);
        Assert.True(double.IsFinite(s.Loss));
        Assert.Equal(-Math.Log(1.17549435e-38), s.Loss, 9);
        Assert.Equal(0, s.Accuracy);
    }
}
