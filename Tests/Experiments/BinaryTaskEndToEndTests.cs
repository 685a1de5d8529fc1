using Engine.Experiments;
using Engine.Kernels.Cpu;

namespace Engine.Tests.Experiments;

/// <summary>
/// Wine color as a single-logit binary task (binary cross-entropy with logits) beside quality as a regression, the
/// whole pipeline on the SIMD CPU path, seeded: the target AUC ≥ 0.99 on the test split, the report's AUC
/// equal to the pair-count definition on the model's own test logits, and the other metrics of the binary row.
/// </summary>
public class BinaryTaskEndToEndTests
{
    [Fact]
    public void Wine_color_as_a_binary_task_reaches_auc_099_on_the_test_split()
    {
        // 30 epochs (~3 s). Guessing gives AUC 0.5; a linear model on these inputs already separates the colors well.
        using var backend = new CpuBackend<float>();
        using var outcome = Experiment.Run(new ExperimentSettings
        {
            DataPath = BundledPaths.WineQuality, Regression = ["quality"], Binary = ["color"], Epochs = 30,
        }, backend, cancellation: TestContext.Current.CancellationToken);

        var color = outcome.Report.Metrics.Test.Single(s => s.Task == "color");
        Assert.Equal(Engine.Data.TaskKind.Binary, color.Kind);
        Assert.Equal(Engine.Data.TaskKind.Binary, outcome.Model.Spec.Heads.Single(h => h.Name == "color").Kind);
        Assert.Equal(1, outcome.Model.Spec.Heads.Single(h => h.Name == "color").Outputs);
        Assert.InRange(color.Auc!.Value, 0.99, 1.0);
        Assert.InRange(color.Accuracy!.Value, 0.98, 1.0);
        Assert.InRange(color.F1!.Value, 0.98, 1.0);             // class 1 = "white", 75 % of the rows
        Assert.Equal(color.Loss, color.LogLoss!.Value);
        Assert.InRange(outcome.Report.Metrics.Test.Single(s => s.Task == "quality").RSquared!.Value, 0.2, 1.0);

        // AUC by its definition, P(z₊ > z₋) + ½P(z₊ = z₋), over every (white, red) pair of the test split.
        var logits = ModelEvaluation.PredictOriginalUnits(outcome.Model, outcome.Data.RawTest, outcome.Data.Standardization, outcome.Data.All.Encoding)
            .Single(o => o.Task == "color").Logits!;
        var labels = ((Engine.Data.ClassTargets)outcome.Data.RawTest.Task("color")).Classes;
        double wins = 0, pairs = 0;
        for (int i = 0; i < labels.Length; i++)
            for (int j = 0; j < labels.Length; j++)
                if (labels[i] == 1 && labels[j] == 0)
                {
                    pairs++;
                    wins += logits[i] > logits[j] ? 1 : logits[i] == logits[j] ? 0.5 : 0;
                }
        Assert.Equal(wins / pairs, color.Auc!.Value, 12);
    }
}
