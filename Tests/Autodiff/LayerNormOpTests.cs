using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The layer-norm op against float64 central differences (torch's tolerances |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|,
/// h = 1e-6) with respect to x, γ and β, for one group and for groups of rows (the experts of a batched layer); a whole
/// shared part with layer norms (and dropout) passes a gradient check; and the stacked per-task backward through layer norms
/// equals one routed backward per task (float64, rtol 1e-12) for the shared bottom, MMoE, PLE and cross-stitch.
/// </summary>
public class LayerNormOpTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_respect_to_x_gamma_and_beta(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 6, 5, seed: 1);
        var gamma = leaves.Random("gamma", 1, 5, seed: 2);
        var beta = leaves.Random("beta", 1, 5, seed: 3);
        var w = leaves.Random("w", 3, 5, seed: 4);
        var result = GradCheck.Run(backend, tape => tape.Linear(tape.Tanh(tape.LayerNorm(x, gamma, beta)), w), [x, gamma, beta, w]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(30 + 5 + 5 + 15, result.Checked);

        var gammas = leaves.Random("gammas", 3, 5, seed: 5);                    // 3 groups of 2 rows
        var betas = leaves.Random("betas", 3, 5, seed: 6);
        result = GradCheck.Run(backend, tape => tape.LayerNorm(x, gammas, betas, groups: 3), [x, gammas, betas]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(30 + 15 + 15, result.Checked);
    }

    [Theory]
    [MemberData(nameof(DropoutOpTests.Cases), MemberType = typeof(DropoutOpTests))]
    public void Stacked_per_task_pass_through_layer_norms_equals_one_routed_backward_per_task(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MixtureOpTests.MoeNet(backend, DropoutOpTests.Make(architecture), dropout: 0.2, layerNorm: true);
        Assert.Contains(net.Parameters.Slots, s => s.Name.EndsWith(".norm.weight", StringComparison.Ordinal));
        MixtureOpTests.AssertStackedEqualsRouted(backend, net, architecture, tape => DropoutOpTests.Train(tape));
    }

    [Theory]
    [MemberData(nameof(DropoutOpTests.Cases), MemberType = typeof(DropoutOpTests))]
    public void A_shared_part_with_layer_norms_passes_a_gradient_check(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MixtureOpTests.MoeNet(backend, DropoutOpTests.Make(architecture), dropout: 0.2, layerNorm: true);
        var result = GradCheck.Run(backend, tape =>
        {
            DropoutOpTests.Train(tape);
            var (losses, _) = net.Forward(tape);
            return tape.Add(tape.Add(losses[0], losses[1]), losses[2]);
        }, net.AllParameters);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(net.Parameters.Count, result.Checked);
    }
}
