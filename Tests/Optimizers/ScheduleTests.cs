using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Learning-rate schedules against their closed forms at chosen steps.</summary>
public class ScheduleTests
{
    [Fact]
    public void Constant_step_and_exponential_follow_their_closed_forms()
    {
        var constant = new ConstantSchedule();
        Assert.Equal(0.1, constant.LearningRate(0.1, 0));
        Assert.Equal(0.1, constant.LearningRate(0.1, 12345));

        var step = new StepSchedule(stepSize: 3, gamma: 0.5);
        double[] expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.25];
        for (int s = 0; s < expected.Length; s++) Assert.Equal(expected[s], step.LearningRate(1, s));

        var exponential = new ExponentialSchedule(0.9);
        Assert.Equal(2.0, exponential.LearningRate(2, 0));
        Assert.Equal(2 * 0.9 * 0.9 * 0.9, exponential.LearningRate(2, 3), 15);
    }

    [Fact]
    public void Cosine_anneals_to_the_minimum_and_stays_there()
    {
        var cosine = new CosineSchedule(decaySteps: 10, minLearningRate: 0.01);
        Assert.Equal(0.1, cosine.LearningRate(0.1, 0), 15);
        Assert.Equal(0.01 + 0.09 * 0.5, cosine.LearningRate(0.1, 5), 15);               // cos(π/2) = 0: halfway
        Assert.Equal(0.01 + 0.09 * (1 + Math.Cos(0.3 * Math.PI)) / 2, cosine.LearningRate(0.1, 3), 15);
        Assert.Equal(0.01, cosine.LearningRate(0.1, 10), 15);
        Assert.Equal(0.01, cosine.LearningRate(0.1, 1000), 15);
    }

    [Fact]
    public void Linear_warmup_ramps_to_the_base_rate_then_hands_over()
    {
        // W = 4: (s+1)/(W+1) of the base for s < 4, then the decay from its own step 0.
        var schedule = new ExponentialSchedule(0.5) { WarmupSteps = 4 };
        double[] expected = [0.2, 0.4, 0.6, 0.8, 1, 0.5, 0.25];
        for (int s = 0; s < expected.Length; s++) Assert.Equal(expected[s], schedule.LearningRate(1, s), 15);

        var cosine = new CosineSchedule(decaySteps: 4) { WarmupSteps = 2 };
        Assert.Equal(2.0 / 3, cosine.LearningRate(1, 1), 15);
        Assert.Equal(1.0, cosine.LearningRate(1, 2), 15);
        Assert.Equal(0.5, cosine.LearningRate(1, 4), 15);
    }

    [Fact]
    public void The_optimizer_applies_the_schedule_to_every_group_per_step()
    {
        // SGD, g = 1, θ₀ = 0: after each step θ falls by exactly that step's learning rate.
        using var model = new TestModel<double>(TestDevices.Reference, 1, 1);
        model.SetValues([0, 0]);
        model.SetGradients([1, 1]);
        var schedule = new StepSchedule(stepSize: 2, gamma: 0.1) { WarmupSteps = 1 };
        using var sgd = new Sgd<double>(model.Backend, model.Parameters, new SgdOptions
        {
            LearningRate = 1, Schedule = schedule, Groups = [new ParameterGroup("head", ["p1"]) { LearningRate = 10 }],
        });
        double[] trunk = [0.5, 1, 1, 0.1], head = [5, 10, 10, 1];
        double t0 = 0, t1 = 0;
        for (int s = 0; s < 4; s++)
        {
            Assert.Equal(trunk[s], sgd.CurrentLearningRate(0), 15);
            Assert.Equal(head[s], sgd.CurrentLearningRate(1), 15);
            sgd.Step();
            t0 -= trunk[s];
            t1 -= head[s];
            Tolerance.AllClose([t0, t1], model.Values(), 1e-14, 1e-15, $"θ after step {s}");
        }
        Assert.Equal(4, sgd.StepsTaken);
    }

    [Fact]
    public void Bad_schedule_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialSchedule(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(10, minLearningRate: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule { WarmupSteps = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule().LearningRate(1, -1));
    }
}
