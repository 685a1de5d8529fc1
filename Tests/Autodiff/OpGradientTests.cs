using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>
/// Every differentiable op against central differences in float64 (<see cref="GradCheck"/>), with respect to
/// each of its inputs and parameters, on the engine's float64 CPU path and on naive loops. Tolerances are
/// torch.autograd.gradcheck's: |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric| with h = 1e-6.
/// Shapes are odd (batch 3 or 5, features 4 or 7) so no row/column mix-up can cancel out.
/// </summary>
public class OpGradientTests
{
    private static void AssertPasses(GradCheckResult result, int expectedElements)
    {
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(expectedElements, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Linear_with_each_activation_and_bias(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        foreach (var activation in new[] { Activation.Identity, Activation.Relu, Activation.Tanh, Activation.Sigmoid })
        {
            using var leaves = new Leaves<double>(backend);
            var x = leaves.Random("x", 5, 4, seed: 1);
            var w = leaves.Random("w", 3, 4, seed: 2);
            var b = leaves.Random("b", 1, 3, seed: 3);
            var result = GradCheck.Run(backend, tape => tape.Linear(x, w, b, activation), [x, w, b]);
            AssertPasses(result, 20 + 12 + 3);
        }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Linear_without_bias(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 3, 7, seed: 4);
        var w = leaves.Random("w", 5, 7, seed: 5);
        AssertPasses(GradCheck.Run(backend, tape => tape.Linear(x, w), [x, w]), 21 + 35);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Relu_tanh_sigmoid(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 5, 7, seed: 6, gap: 0.05);
        AssertPasses(GradCheck.Run(backend, tape => tape.Relu(x), [x]), 35);
        AssertPasses(GradCheck.Run(backend, tape => tape.Tanh(x), [x]), 35);
        AssertPasses(GradCheck.Run(backend, tape => tape.Sigmoid(x), [x]), 35);
        AssertPasses(GradCheck.Run(backend, tape => tape.Activate(x, Activation.Identity), [x]), 35);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Add_and_scale_including_a_tensor_used_twice(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var a = leaves.Random("a", 3, 4, seed: 7);
        var b = leaves.Random("b", 3, 4, seed: 8);
        AssertPasses(GradCheck.Run(backend, tape => tape.Add(a, b), [a, b]), 24);
        AssertPasses(GradCheck.Run(backend, tape => tape.Scale(a, -2.5), [a]), 12);
        // a appears twice: the second contribution must add to the first, not overwrite it.
        AssertPasses(GradCheck.Run(backend, tape => tape.Add(a, a), [a]), 12);
        AssertPasses(GradCheck.Run(backend, tape => tape.Add(tape.Tanh(a), tape.Scale(tape.Tanh(a), 3.0)), [a]), 12);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Sum_and_mean(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 5, 3, seed: 9);
        AssertPasses(GradCheck.Run(backend, tape => tape.Sum(x), [x]), 15);
        AssertPasses(GradCheck.Run(backend, tape => tape.Mean(tape.Sigmoid(x)), [x]), 15);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Mse_with_respect_to_prediction_and_target(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("prediction", 5, 3, seed: 10);
        var t = leaves.Random("target", 5, 3, seed: 11);
        AssertPasses(GradCheck.Run(backend, tape => tape.Mse(p, t), [p, t]), 30);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Softmax_cross_entropy(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var logits = leaves.Make("logits", 5, 4, Array.ConvertAll(Infrastructure.Tolerance.Random(20, 12), v => 3 * v));
        var labels = leaves.Labels([0, 3, 1, 1, 2], classes: 4);
        AssertPasses(GradCheck.Run(backend, tape => tape.SoftmaxCrossEntropy(logits, labels), [logits]), 20);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Weighted_sum_with_respect_to_losses_and_weights(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("prediction", 3, 2, seed: 13);
        var t = leaves.Random("target", 3, 2, seed: 14, requiresGrad: false);
        var logits = leaves.Random("logits", 3, 3, seed: 15);
        var labels = leaves.Labels([2, 0, 1], classes: 3);
        var x = leaves.Random("x", 2, 2, seed: 16);
        var weights = leaves.Make("weights", 1, 3, [0.7, 1.9, -0.4]);
        var result = GradCheck.Run(backend,
            tape => tape.WeightedSum(weights, tape.Mse(p, t), tape.SoftmaxCrossEntropy(logits, labels), tape.Mean(tape.Tanh(x))),
            [p, logits, x, weights]);
        AssertPasses(result, 6 + 9 + 4 + 3);
    }
}
