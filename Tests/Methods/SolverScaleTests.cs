using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Methods;

/// <summary>
/// Audit fixes: the Frank–Wolfe stopping test is relative (the coefficients of MGDA and CAGrad do not depend on the
/// gradients' scale), and loss-balanced weighting follows one NaN rule on every device.
/// </summary>
public class SolverScaleTests
{
    private static double[] Coefficients(GradientCombiner<double> combiner, double[][] g)
    {
        Run(TestDevices.Reference, combiner, g, Enumerable.Repeat(1.0, g.Length).ToArray());
        return TestDevices.Reference.ToArray(combiner.Coefficients);
    }

    private static double[][] Conflicting(int tasks, double scale)
    {
        var g = RandomGradients(tasks, 12, seed: 40 + tasks);
        for (int k = 0; k < 12; k++) g[1][k] -= 0.9 * g[0][k]; // a conflict, so the optimum is not the mean
        return g.Select(row => row.Select(v => v * scale).ToArray()).ToArray();
    }

    /// <summary>Scaling every gradient by 1e-8 scales the Gram matrix by 1e-16: the coefficients must not move (before the
    /// fix the absolute test 1e-12·max(1, Gᵢᵢ) stopped at once and MGDA returned the mean, CAGrad 1.5·g₀).</summary>
    [Theory]
    [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)] [InlineData(6)] [InlineData(7)] [InlineData(8)]
    public void Mgda_and_cagrad_coefficients_are_the_same_at_scales_1_and_1e_minus_8(int tasks)
    {
        foreach (Func<GradientCombiner<double>> make in new Func<GradientCombiner<double>>[]
                 { () => new MgdaCombiner<double>(TestDevices.Reference), () => new CaGradCombiner<double>(TestDevices.Reference, 0.5) })
        {
            using var a = make();
            using var b = make();
            var one = Coefficients(a, Conflicting(tasks, 1));
            var tiny = Coefficients(b, Conflicting(tasks, 1e-8));
            Tolerance.AllClose(one, tiny, 1e-9, 1e-7, $"{a.GetType().Name} coefficients, T = {tasks}");
            // Not the uniform start: the solver really ran at the tiny scale.
            double uniform = a is MgdaCombiner<double> ? 1.0 / tasks : 1.0 / tasks / 1.25;
            Assert.True(tiny.Max(x => Math.Abs(x - uniform)) > 1e-3, $"{a.GetType().Name}: stopped at the start, T = {tasks}");
        }
    }

    [Fact]
    public void All_zero_gradients_give_a_zero_update()
    {
        using var mgda = new MgdaCombiner<double>(TestDevices.Reference);
        var result = Run(TestDevices.Reference, mgda, [new double[5], new double[5], new double[5]], [1, 1, 1]);
        Assert.All(result, v => Assert.Equal(0.0, v));
    }

    /// <summary>One rule on both backends: a NaN loss makes every weight NaN (so the non-finite guard skips the step);
    /// +∞ gives its task weight 0 and the others their share.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Loss_balanced_weights_follow_one_nan_rule_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        using var weights = backend.Allocate<float>(3);
        using var nan = backend.Allocate<float>([1f, float.NaN, 2f]);
        backend.LossBalancedWeights(nan.View, 1e-8f, weights.View);
        Assert.All(backend.ToArray(weights.View), w => Assert.True(float.IsNaN(w), $"{device}: weight {w} from a NaN loss"));

        using var infinite = backend.Allocate<float>([1f, float.PositiveInfinity, 3f]);
        backend.LossBalancedWeights(infinite.View, 1e-8f, weights.View);
        // 1/L: (1, 0, 1/3), normalised by 4/3.
        Tolerance.AllClose([0.75, 0, 0.25], Tolerance.ToDouble(backend.ToArray(weights.View)), 0, 1e-6, device);
    }
}
