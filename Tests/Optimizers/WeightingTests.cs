using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Every weighting scheme against its formula over a scripted sequence of losses and accuracies.</summary>
public class WeightingTests
{
    private static double[] Read<T>(Backend<T> backend, View<T> view) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> =>
        Array.ConvertAll(backend.ToArray(view), double.CreateTruncating);

    [Fact]
    public void Static_weights_are_uploaded_as_given_and_validated()
    {
        var backend = TestDevices.Reference;
        using var weighting = new StaticWeighting<double>(backend, 1, 0.5, 2);
        Assert.Equal([1, 0.5, 2], Read(backend, weighting.Weights));
        weighting.Update(default); // no per-step work
        Assert.Throws<ArgumentOutOfRangeException>(() => new StaticWeighting<double>(backend, 1, -1));
        Assert.Throws<ArgumentException>(() => new StaticWeighting<double>(backend, 1, double.NaN));
    }

    private static readonly double[][] LossScript = [[2.0, 0.5], [1.0, 1.0], [0.1, 3.0], [4.0, 1e-3]];

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Loss_balanced_two_tasks_give_w_A_equal_L_B_over_the_sum(string device)
    {
        var backend = TestDevices.Get(device);
        using var weighting = new LossBalancedWeighting<float>(backend, 2);
        Tolerance.AllClose([0.5, 0.5], Read(backend, weighting.Weights), 0, 1e-7, "before the first update");
        using var losses = backend.Allocate<float>(2);
        foreach (var l in LossScript)
        {
            backend.Upload(Tolerance.ToFloat(l), losses.View);
            weighting.Update(losses.View);
            double la = (float)l[0], lb = (float)l[1];
            // w_A = (1/L_A)/((1/L_A) + (1/L_B)) = L_B/(L_A + L_B); float32 output: 1e-6 relative.
            Tolerance.AllClose([lb / (la + lb), la / (la + lb)], Read(backend, weighting.Weights), 1e-6, 1e-7, $"L = ({la}, {lb})");
        }
    }

    [Fact]
    public void Loss_balanced_three_tasks_match_the_formula_and_zero_loss_stays_finite()
    {
        var backend = TestDevices.Reference;
        using var weighting = new LossBalancedWeighting<double>(backend, 3, minLoss: 1e-6);
        using var losses = backend.Allocate<double>(3);
        backend.Upload([1.0, 2.0, 4.0], losses.View);
        weighting.Update(losses.View);
        // 1/L = (1, 0.5, 0.25), sum 1.75: w = (4/7, 2/7, 1/7).
        Tolerance.AllClose([4.0 / 7, 2.0 / 7, 1.0 / 7], Read(backend, weighting.Weights), 1e-15, 0);
        backend.Upload([0.0, 1.0, 1.0], losses.View);
        weighting.Update(losses.View);
        // L₁ clamped to 1e-6: 1/L = (1e6, 1, 1).
        Tolerance.AllClose([1e6 / (1e6 + 2), 1 / (1e6 + 2), 1 / (1e6 + 2)], Read(backend, weighting.Weights), 1e-15, 0);
        var error = Assert.Throws<ArgumentException>(() => weighting.Update(losses.Slice(0, 2)));
        Assert.Equal("taskLosses", error.ParamName);
    }

    [Fact]
    public void Accuracy_weights_follow_one_minus_accuracy_over_epochs()
    {
        var backend = TestDevices.Reference;
        using var weighting = new AccuracyWeighting<double>(backend, 3);
        Tolerance.AllClose([1.0 / 3, 1.0 / 3, 1.0 / 3], Read(backend, weighting.Weights), 1e-15, 0);
        double[][] script = [[0.5, 0.75, 0.9], [0.8, 0.8, 0.6], [1.0, 0.0, 0.5]];
        foreach (var acc in script)
        {
            weighting.EndEpoch([], acc);
            double total = acc.Sum(a => 1 - a);
            Tolerance.AllClose(acc.Select(a => (1 - a) / total).ToArray(), Read(backend, weighting.Weights), 1e-15, 1e-16, string.Join(",", acc));
        }
        // (0.5, 0.25, 0.1)/0.85 was the first; every task perfect → equal weights, not 0/0.
        weighting.EndEpoch([], [1, 1, 1]);
        Tolerance.AllClose([1.0 / 3, 1.0 / 3, 1.0 / 3], Read(backend, weighting.Weights), 1e-15, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => weighting.EndEpoch([], [0.5, 1.5, 0]));
        Assert.Throws<ArgumentException>(() => weighting.EndEpoch([], [0.5, 0.5]));
    }

    [Fact]
    public void Dynamic_weight_averaging_uses_equal_weights_for_two_epochs_then_the_loss_ratio_softmax()
    {
        var backend = TestDevices.Reference;
        const double tau = 2.0;
        using var dwa = new DynamicWeightAveraging<double>(backend, 3, tau);
        double[][] epochs = [[1.0, 2.0, 3.0], [0.5, 1.8, 3.3], [0.4, 1.0, 3.0], [0.39, 0.5, 2.0]];
        Assert.Equal([1.0, 1.0, 1.0], Read(backend, dwa.Weights));
        dwa.EndEpoch(epochs[0], []);
        Assert.Equal([1.0, 1.0, 1.0], Read(backend, dwa.Weights)); // epoch 2 still trains with equal weights
        for (int e = 1; e < epochs.Length; e++)
        {
            dwa.EndEpoch(epochs[e], []);
            // wᵢ = T·exp(rᵢ/τ)/Σⱼ exp(rⱼ/τ), rᵢ = Lᵢ(t−1)/Lᵢ(t−2).
            var r = Enumerable.Range(0, 3).Select(i => epochs[e][i] / epochs[e - 1][i]).ToArray();
            double z = r.Sum(x => Math.Exp(x / tau));
            var expected = r.Select(x => 3 * Math.Exp(x / tau) / z).ToArray();
            Tolerance.AllClose(expected, Read(backend, dwa.Weights), 1e-14, 0, $"after epoch {e + 1}");
            Assert.Equal(3.0, Read(backend, dwa.Weights).Sum(), 12);
        }
        // By hand for the second update: r = (0.5/1, 1.8/2, 3.3/3) = (0.5, 0.9, 1.1): the task whose loss fell least (task 3) weighs most.
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicWeightAveraging<double>(backend, 2, 0));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Uncertainty_writes_exp_minus_s_and_accumulates_the_log_variance_gradient(string device)
    {
        var backend = TestDevices.Get(device);
        using var parameters = new FlatParameters<float>(backend);
        parameters.Add("trunk.weight", 5);
        using var weighting = new UncertaintyWeighting<float>(backend, parameters, 3);
        Assert.Throws<InvalidOperationException>(() => weighting.LogVariances); // not allocated yet
        parameters.Allocate();
        Assert.Equal("uncertainty.log_variance", parameters.Slots[1].Name);
        Assert.Equal(5, weighting.Slot.Offset);
        backend.Upload(new float[parameters.Count], parameters.Gradients);
        weighting.Initialize();
        Assert.Equal([1f, 1f, 1f], backend.ToArray(weighting.Weights));

        float[] s = [0.5f, -1f, 2f];
        backend.Upload(s, weighting.LogVariances);
        using var losses = backend.Allocate<float>(3);
        float[][] script = [[1f, 2f, 0.25f], [0.5f, 3f, 7f]];
        var gradient = new double[3];
        foreach (var l in script)
        {
            backend.Upload(l, losses.View);
            weighting.Update(losses.View);
            double total = 0;
            for (int i = 0; i < 3; i++)
            {
                gradient[i] += 1 - Math.Exp(-(double)s[i]) * l[i]; // ∂/∂sᵢ [exp(−sᵢ)Lᵢ + sᵢ]
                total += Math.Exp(-(double)s[i]) * l[i] + s[i];
            }
            Tolerance.AllClose(s.Select(x => Math.Exp(-(double)x)).ToArray(), Read(backend, weighting.Weights), 1e-6, 0, $"{device} weights");
            Tolerance.AllClose(gradient, Read(backend, parameters.GradientsOf(weighting.Slot)), 1e-6, 1e-6, $"{device} ∂L/∂s (accumulated)");
            Tolerance.AllClose([total], Read(backend, weighting.TotalLoss), 1e-6, 1e-6, $"{device} total loss");
        }
        Assert.Equal(new float[5], backend.ToArray(parameters.Gradients.Slice(0, 5))); // the trunk's gradients are untouched
    }

    [Fact]
    public void Uncertainty_gradient_passes_a_float64_central_difference_check()
    {
        var backend = TestDevices.Reference;
        double[] l = [0.7, 2.5, 0.01], s = [0.3, -0.4, 1.2];
        double Objective(double[] sv) => Enumerable.Range(0, 3).Sum(i => Math.Exp(-sv[i]) * l[i] + sv[i]);
        using var losses = backend.Allocate<double>(l);
        using var logVariances = backend.Allocate<double>(s);
        using var weights = backend.Allocate<double>(3);
        using var gradients = backend.Allocate<double>(3);
        using var total = backend.Allocate<double>(1);
        backend.UncertaintyWeights(losses.View, logVariances.View, weights.View, gradients.View, accumulate: false, total.View);
        var analytic = backend.ToArray(gradients.View);
        const double h = 1e-6;
        for (int i = 0; i < 3; i++)
        {
            var plus = (double[])s.Clone(); plus[i] += h;
            var minus = (double[])s.Clone(); minus[i] -= h;
            double numeric = (Objective(plus) - Objective(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) < 1e-8, $"∂L/∂s{i}: analytic {analytic[i]}, numeric {numeric}");
        }
        Assert.Equal(Objective(s), backend.Read(total.View), 12);
    }

    [Fact]
    public void Weighting_kernels_reject_mismatched_lengths()
    {
        var backend = TestDevices.Reference;
        using var three = backend.Allocate<double>(3);
        using var two = backend.Allocate<double>(2);
        var e1 = Assert.Throws<ArgumentException>(() => backend.LossBalancedWeights(three.View, 1e-8, two.View));
        Assert.Equal("weights", e1.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.LossBalancedWeights(three.View, 0, three.View));
        var e2 = Assert.Throws<ArgumentException>(() => backend.UncertaintyWeights(three.View, two.View, three.View, three.View, false, default));
        Assert.Equal("logVariances", e2.ParamName);
    }
}
