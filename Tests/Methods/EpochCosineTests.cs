using Engine.Kernels.Cpu;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>Audit fix: the reported task-gradient cosine matrix is the mean over the epoch's steps, not the last step's.</summary>
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
}
