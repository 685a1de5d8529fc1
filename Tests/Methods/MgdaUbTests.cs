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

    /// <summary>The paper's upper bound (§3.3), in float64 on a hand-written model Z = tanh(XW + b), Lᵢ = ½·mean_r(Z_r·vᵢ − yᵢᵣ)²,
    /// with the Jacobian J = ∂vec Z/∂θ written out: for the α the engine's MGDA finds on the Z-gradients,
    /// ‖Σ αᵢ∇_θLᵢ‖ = ‖Jᵀ Σ αᵢ∇_Z Lᵢ‖ ≤ ‖J‖₂·‖Σ αᵢ∇_Z Lᵢ‖ (‖J‖₂ by power iteration on JᵀJ).</summary>
    [Fact]
    public void The_upper_bound_of_the_paper_holds()
    {
        const int rows = 6, inputs = 3, width = 4, tasks = 3;
        var rng = new Random(5);
        double Next() => 2 * rng.NextDouble() - 1;
        var x = new double[rows, inputs]; var w = new double[inputs, width]; var bias = new double[width];
        var v = new double[tasks, width]; var y = new double[tasks, rows];
        for (int r = 0; r < rows; r++) for (int j = 0; j < inputs; j++) x[r, j] = Next();
        for (int j = 0; j < inputs; j++) for (int k = 0; k < width; k++) w[j, k] = Next();
        for (int k = 0; k < width; k++) bias[k] = 0.3 * Next();
        for (int i = 0; i < tasks; i++) { for (int k = 0; k < width; k++) v[i, k] = Next(); for (int r = 0; r < rows; r++) y[i, r] = Next(); }
        var z = new double[rows, width];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < width; k++)
            {
                double s = bias[k];
                for (int j = 0; j < inputs; j++) s += x[r, j] * w[j, k];
                z[r, k] = Math.Tanh(s);
            }
        // ∇_Z Lᵢ [rows·width] and J [rows·width × (inputs·width + width)].
        int p = inputs * width + width;
        var dz = new double[tasks][];
        for (int i = 0; i < tasks; i++)
        {
            dz[i] = new double[rows * width];
            for (int r = 0; r < rows; r++)
            {
                double e = -y[i, r];
                for (int k = 0; k < width; k++) e += z[r, k] * v[i, k];
                for (int k = 0; k < width; k++) dz[i][r * width + k] = e * v[i, k] / rows;
            }
        }
        var jac = new double[rows * width, p];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < width; k++)
            {
                double d = 1 - z[r, k] * z[r, k];
                for (int j = 0; j < inputs; j++) jac[r * width + k, j * width + k] = d * x[r, j];
                jac[r * width + k, inputs * width + k] = d;
            }
        double[] JT(double[] u) { var o = new double[p]; for (int a = 0; a < rows * width; a++) for (int b = 0; b < p; b++) o[b] += jac[a, b] * u[a]; return o; }
        double[] J(double[] t) { var o = new double[rows * width]; for (int a = 0; a < rows * width; a++) for (int b = 0; b < p; b++) o[a] += jac[a, b] * t[b]; return o; }
        var q = Enumerable.Repeat(1.0, p).ToArray();
        double sigma2 = 0;
        for (int it = 0; it < 2000; it++)
        {
            var next = JT(J(q));
            sigma2 = Math.Sqrt(Dot(next, next)) / Math.Sqrt(Dot(q, q));
            q = next.Select(e => e / Math.Sqrt(Dot(next, next))).ToArray();
        }
        double jNorm = Math.Sqrt(sigma2);

        using var mgda = new MgdaCombiner<double>(TestDevices.Reference);
        var upstream = Run(TestDevices.Reference, mgda, dz, [1, 1, 1]);
        var alpha = TestDevices.Reference.ToArray(mgda.Coefficients);
        var thetaGrads = dz.Select(JT).ToArray();
        var lhs = Combination(alpha, thetaGrads);
        double left = Math.Sqrt(Dot(lhs, lhs)), right = jNorm * Math.Sqrt(Dot(upstream, upstream));
        Assert.True(right > 1e-6, "a Pareto-stationary case proves nothing");
        Assert.True(left <= right * (1 + 1e-9), $"‖Σαᵢ∇θLᵢ‖ = {left:R} > ‖J‖·‖Σαᵢ∇ZLᵢ‖ = {right:R}");
        // And Σαᵢ∇θLᵢ is Jᵀ applied to the combined upstream (what the one shared backward computes).
        Tolerance.AllClose(JT(upstream), lhs, 1e-12, 1e-14, "Jᵀ·upstream");
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

    /// <summary>Shared parts with one boundary tensor other than the shared bottom (the experts' outputs of MMoE and
    /// DSelect-k, cross-stitch's): Z is that tensor; a step trains and a warm step allocates nothing.</summary>
    [Theory]
    [InlineData("mmoe")]
    [InlineData("dselect-k")]
    [InlineData("cross-stitch")]
    public void Single_boundary_architectures_train(string architecture)
    {
        Architecture arch = architecture switch
        {
            "mmoe" => new MmoeArchitecture(3),
            "dselect-k" => new DSelectKArchitecture(4, 2, 1.0, 0.01),
            _ => new CrossStitchArchitecture(),
        };
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [4]) with { Architecture = arch }, cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = "mgda-ub", LearningRate = 0.01 }, 16);
        Assert.True(step.UsesRepresentationGradients);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
    }

    /// <summary>A shared part the tasks reach through several tensors (PLE), and task-gradient diagnostics, are refused with a clear error.</summary>
    [Fact]
    public void Several_representations_are_refused()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [4]) with { Architecture = new PleArchitecture(2, 1, 3) }, cpu);
        var e = Assert.Throws<NotSupportedException>(() => new TrainingStep(model, new StepOptions { Method = "mgda-ub" }, 16));
        Assert.Contains("single representation", e.Message);
        using var plain = MultiTaskModel.Create(Problems.Spec(), cpu);
        var d = Assert.Throws<NotSupportedException>(() => new TrainingStep(plain, new StepOptions { Method = "mgda-ub", TaskGradientDiagnostics = true }, 16));
        Assert.Contains("diagnostics", d.Message);
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
