using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>gls</c> (Chennupati et al. 2019): λᵢ = G/(T·Lᵢ) with G = (Π Lⱼ)^{1/T}. Against a float64 reference written here
/// from the product (not the kernels' exp-mean-log), on every device; the paper's claims — Σ λᵢ∇Lᵢ is the gradient of
/// the geometric mean (central differences), and the direction does not depend on a loss's scale; the NaN rule; and
/// training through the registry with no allocation per step.
/// </summary>
public sealed class GlsTests
{
    /// <summary>G = (Π max(Lⱼ, m))^{1/T} by the product, λᵢ = G/(T·max(Lᵢ, m)).</summary>
    private static double[] Reference(double[] losses, double minLoss = 1e-8)
    {
        double product = 1;
        foreach (double l in losses) product *= Math.Max(l, minLoss);
        double g = Math.Pow(product, 1.0 / losses.Length);
        return [.. losses.Select(l => g / (losses.Length * Math.Max(l, minLoss)))];
    }

    private static readonly double[][] Script = [[2.0, 0.5], [1.0, 1.0, 1.0], [0.1, 3.0, 0.02, 7.5], [4.0, 1e-3], [0.0, 1.0, 2.0], [1e-12, 5.0]];

    /// <summary>float32 weights of a float64 computation: one rounding of the result and of each input, 1e-6 relative.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Weights_match_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (var l in Script)
        {
            using var weighting = new GeometricLossWeighting<float>(backend, l.Length);
            Tolerance.AllClose(Enumerable.Repeat(1.0 / l.Length, l.Length).ToArray(), backend.ToArray(weighting.Weights), 0, 1e-7, "before the first update");
            using var losses = backend.Allocate<float>(Tolerance.ToFloat(l));
            weighting.Update(losses.View);
            var input = Array.ConvertAll(Tolerance.ToFloat(l), v => (double)v);
            Tolerance.AllClose(Reference(input), backend.ToArray(weighting.Weights), 1e-6, 0, $"L = ({string.Join(", ", l)})");
        }
    }

    /// <summary>The paper's objective is G(L) = (Π Lᵢ)^{1/T}; the weights must be its partial derivatives ∂G/∂Lᵢ, so that
    /// the backward of Σ λᵢLᵢ is the backward of G. Central differences of the product formula, float64, h = 1e-6·Lᵢ.</summary>
    [Fact]
    public void The_weights_are_the_partial_derivatives_of_the_geometric_mean()
    {
        var backend = TestDevices.Reference;
        double G(double[] l) => Math.Pow(l.Aggregate(1.0, (p, v) => p * v), 1.0 / l.Length);
        foreach (var l in Script.Where(s => s.All(v => v > 1e-6)))
        {
            using var weighting = new GeometricLossWeighting<double>(backend, l.Length);
            using var losses = backend.Allocate<double>(l);
            weighting.Update(losses.View);
            var w = backend.ToArray(weighting.Weights);
            for (int i = 0; i < l.Length; i++)
            {
                double h = 1e-6 * l[i];
                var up = (double[])l.Clone(); up[i] += h;
                var down = (double[])l.Clone(); down[i] -= h;
                double numeric = (G(up) - G(down)) / (2 * h);
                Assert.True(Math.Abs(numeric - w[i]) <= 1e-7 * Math.Abs(w[i]), $"L = ({string.Join(", ", l)}), i = {i}: ∂G/∂Lᵢ ≈ {numeric:R}, λᵢ = {w[i]:R}");
            }
        }
    }

    /// <summary>Scale invariance (the reason for the geometric mean): every weighted loss λᵢLᵢ equals G/T, and scaling one
    /// loss by c scales every weighted loss — hence the combined gradient Σ λᵢ∇Lᵢ — by the same c^{1/T}.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Scaling_one_loss_scales_every_weighted_loss_alike(string device)
    {
        var backend = TestDevices.Get(device);
        float[] l = [0.3f, 2.0f, 0.05f];
        using var weighting = new GeometricLossWeighting<float>(backend, 3);
        using var losses = backend.Allocate<float>(l);
        weighting.Update(losses.View);
        var before = backend.ToArray(weighting.Weights).Select((w, i) => (double)w * l[i]).ToArray();
        Assert.All(before, v => Assert.Equal(before[0], v, 1e-6 * before[0]));
        foreach (float c in new[] { 1000f, 1e-4f })
        {
            float[] scaled = [l[0], c * l[1], l[2]];
            backend.Upload<float>(scaled, losses.View);
            weighting.Update(losses.View);
            var after = backend.ToArray(weighting.Weights).Select((w, i) => (double)w * scaled[i]).ToArray();
            double factor = Math.Pow(c, 1.0 / 3);
            for (int i = 0; i < 3; i++) Assert.Equal(factor * before[i], after[i], 2e-6 * factor * before[i]);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_NaN_loss_makes_every_weight_NaN_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        using var weighting = new GeometricLossWeighting<float>(backend, 3);
        using var losses = backend.Allocate<float>([1f, float.NaN, 2f]);
        weighting.Update(losses.View);
        Assert.All(backend.ToArray(weighting.Weights), w => Assert.True(float.IsNaN(w)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GeometricLossWeighting<float>(backend, 2, minLoss: 0));
    }

    /// <summary>Through the registry: <c>gls</c> and <c>gls+pcgrad</c> train (loss down), the step's weights are the
    /// reference's of the step's own losses, and a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("gls")]
    [InlineData("gls+pcgrad")]
    public void Gls_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01 }, 16);
        Assert.Equal("gls", step.Plan.Weighting.Name);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        var losses = Array.ConvertAll(cpu.ToArray(step.TaskLosses), v => (double)v);
        Tolerance.AllClose(Reference(losses), cpu.ToArray(step.Weighting.Weights), 1e-6, 0, "the step's weights from its losses");
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
    }
}
