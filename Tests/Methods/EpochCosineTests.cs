using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>Audit fix: the reported task-gradient cosine matrix is the mean over the epoch's steps, not the last step's, and
/// per entry over the steps where both tasks had a gradient.</summary>
public class EpochCosineTests
{
    private static readonly CpuBackend<float> Cpu = new();

    private static double Cosine(float[] rows, int length)
    {
        double dot = 0, a = 0, b = 0;
        for (int k = 0; k < length; k++)
        {
            double x = rows[k], y = rows[length + k];
            dot += x * y; a += x * x; b += y * y;
        }
        return dot / Math.Sqrt(a * b);
    }

    [Fact]
    public void The_cosines_read_after_three_steps_are_their_mean()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(24, seed: 3));
        using var step = new TrainingStep(model, new StepOptions { Method = "pcgrad", LearningRate = 0.05 }, 8);
        int length = model.SharedParameters.Length;
        var seen = new List<double>();
        for (int s = 0; s < 3; s++)
        {
            step.Run(device, 8 * s, 8); // three different batches: three different cosines
            seen.Add(Cosine(Cpu.ToArray(step.TaskGradients), length));
        }
        Assert.True(seen.Max() - seen.Min() > 1e-3, "the batches must give different cosines for the test to tell mean from last");
        var statistics = step.ReadStatistics();
        Assert.Equal(seen.Average(), statistics.TaskGradientCosines![0, 1], 1e-5);
        Assert.Equal(1.0, statistics.TaskGradientCosines[1, 1], 1e-5);

        step.ResetStatistics(); // a new epoch starts its own mean
        step.Run(device, 0, 8);
        double fresh = Cosine(Cpu.ToArray(step.TaskGradients), length);
        Assert.Equal(fresh, step.ReadStatistics().TaskGradientCosines![0, 1], 1e-5);
    }

    /// <summary>A task with no labelled row in a batch has a zero gradient row and no cosine in that step: the epoch's mean
    /// leaves that step out for its pairs. Three batches of 8, the classification task unlabelled in the second: its
    /// diagonal is exactly 1 (an all-steps mean would give 2/3) and cos(reg, cls) is the mean of the first and third
    /// batches' cosines (float64 from the downloaded rows, 1e-5), while the regression task's diagonal is 1 too.</summary>
    [Fact]
    public void A_batch_without_labels_for_a_task_does_not_count_towards_its_mean()
    {
        var data = Problems.Data(24, seed: 3);
        var classes = (int[])data["cls"].Classes!.Clone();
        for (int r = 8; r < 16; r++) classes[r] = MissingLabel.Class;
        var partial = new TrainingData(data.Inputs, 5, [data["reg"], TaskData.Classification("cls", classes, 3)]);
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var device = DeviceDataset.Upload(model, partial);
        using var step = new TrainingStep(model, new StepOptions { Method = "pcgrad", LearningRate = 0.05 }, 8);
        int length = model.SharedParameters.Length;
        var seen = new List<double>();
        for (int s = 0; s < 3; s++)
        {
            step.Run(device, 8 * s, 8);
            var rows = Cpu.ToArray(step.TaskGradients);
            if (s == 1) Assert.All(rows[length..], v => Assert.Equal(0f, v));   // the test needs a zero row
            else seen.Add(Cosine(rows, length));
        }
        var cosines = step.ReadStatistics().TaskGradientCosines!;
        Assert.Equal(1.0, cosines[1, 1]);
        Assert.Equal(1.0, cosines[0, 0]);
        Assert.Equal(seen.Average(), cosines[0, 1], 1e-5);
        Assert.Equal(cosines[0, 1], cosines[1, 0]);
    }
}
