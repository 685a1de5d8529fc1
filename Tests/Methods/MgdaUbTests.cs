using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Methods;

/// <summary>MGDA-UB (<c>mgda-ub</c>, Sener &amp; Koltun 2018 §3.3): the min-norm solve on the task gradients of the shared
/// representation Z, then one backward of the shared part with Σ aᵢ∂Lᵢ/∂Z.</summary>
public class MgdaUbTests
{
    private static (float[] Trunk, double[] Coefficients, double[,] Gram) OneStep(ModelSpec spec, string method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01 }, 16);
        step.Run(device, 0, 16);
        var all = cpu.ToArray(model.Parameters.Gradients);
        var trunk = all.AsSpan(model.SharedParameters.Offset, model.SharedParameters.Length).ToArray();
        if (step.Combiner is not MgdaCombiner<float> mgda) return (trunk, [], new double[0, 0]);
        var a = Array.ConvertAll(cpu.ToArray(mgda.Coefficients), v => (double)v);
        var g = Array.ConvertAll(cpu.ToArray(mgda.Gram), v => (double)v);
        int t = a.Length;
        var gram = new double[t, t];
        for (int i = 0; i < t; i++) for (int j = 0; j < t; j++) gram[i, j] = g[i * t + j];
        return (trunk, a, gram);
    }

    /// <summary>The shared parameters' gradient of an <c>mgda-ub</c> step is ∇_θ Σ aᵢLᵢ with its coefficients a: the same as
    /// a weighted-sum step whose static weights are a (chain rule through Z: one backward of Σ aᵢ∂Lᵢ/∂Z), to float32
    /// rounding; and a is the min-norm point of the hull of the (weighted) Z-gradients, checked on their Gram matrix by a
    /// brute-force float64 search of the simplex.</summary>
    [Fact]
    public void The_shared_gradient_is_that_of_the_coefficient_weighted_losses_and_the_coefficients_are_min_norm_on_Z()
    {
        var spec = Problems.Spec();
        var (trunk, a, gram) = OneStep(spec, "mgda-ub");
        Assert.Equal(2, a.Length);
        double[] w = [.. spec.Heads.Select(h => h.LossWeight)];
        // MGDA by hand on the Z-gradients: β over the simplex minimising βᵀG̃β, G̃ = wᵢwⱼGᵢⱼ; a = wβ.
        var weighted = new double[2, 2];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) weighted[i, j] = w[i] * w[j] * gram[i, j];
        var beta = BruteForceSimplexMinimum(2, b => Quadratic(b, weighted));
        Tolerance.AllClose([.. beta.Select((b, i) => w[i] * b)], a, 1e-4, 1e-5, "a = wβ");
        Assert.True(a.All(x => x > 1e-3), "the case should be interior (both tasks active)");

        var reference = spec with { Heads = [.. spec.Heads.Select((h, i) => h with { LossWeight = a[i] })] };
        var (sumTrunk, _, _) = OneStep(reference, "sum");
        Tolerance.AllClose(Array.ConvertAll(sumTrunk, v => (double)v), trunk, 1e-4, 1e-6, "trunk gradient");
    }

    /// <summary>Through the registry with each normalisation: trains, a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("none")]
    [InlineData("l2")]
    [InlineData("loss+")]
    public void Trains_through_the_registry(string normalization) =>
        MethodTraining.TrainsThroughTheRegistry("mgda-ub", new() { ["normalization"] = normalization }, step =>
        {
            Assert.True(step.UsesRepresentationGradients);
            Assert.IsType<MgdaCombiner<float>>(step.Combiner);
        });

    /// <summary>A shared part the tasks reach through several tensors (PLE) is refused with a clear error.</summary>
    [Fact]
    public void Several_representations_are_refused()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [4]) with { Architecture = new PleArchitecture(2, 1, 3) }, cpu);
        var e = Assert.Throws<NotSupportedException>(() => new TrainingStep(model, new StepOptions { Method = "mgda-ub" }, 16));
        Assert.Contains("single representation", e.Message);
    }

    /// <summary><c>mtl train --method mgda-ub</c> trains.</summary>
    [Fact]
    public void Mtl_train_takes_mgda_ub()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"mgdaub-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "mgda-ub", "--method-option", "normalization=l2"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
        }
        finally { File.Delete(csv); }
    }
}
