using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>stch</c> (Lin et al. 2024, as LibMTL's <c>STCH</c>): warm-up weights 1/Lᵢ, the nadir point from the last warm-up
/// epoch's losses, then wᵢ = ∂/∂Lᵢ of T·μ·log Σ exp(log(Lⱼ/nⱼ)/μ). Against a float64 reference written here from the
/// objective (the softmax written as exp over a sum, no shift), on every device; LibMTL's own code run under torch
/// (Tests/Fixtures/make_stch_libmtl.py); the paper's claims — the weights are the smooth objective's gradient, and as
/// μ → 0 it becomes the Tchebycheff maximum (all weight on the worst normalised task); checkpointed state; training
/// through the registry and the CLI with no allocation per warm step.
/// </summary>
public sealed class StchTests
{
    /// <summary>The epoch-by-epoch script of the fixture: (epoch, losses), warm-up W = 1.</summary>
    private static readonly (int Epoch, double[] Losses)[] Script =
    [
        (0, [2.0, 0.5, 1.2]), (0, [1.8, 0.45, 1.1]),
        (1, [1.5, 0.40, 1.0]), (1, [1.3, 0.30, 0.9]),
        (2, [1.2, 0.30, 0.5]), (2, [1.0, 0.32, 0.4]),
        (3, [0.9, 0.05, 0.3]),
    ];

    /// <summary>Printed by Tests/Fixtures/make_stch_libmtl.py (LibMTL's STCH.backward under torch 1.13, float64): the losses'
    /// .grad at every step of <see cref="Script"/>, for μ = 1 and μ = 0.2.</summary>
    private static readonly Dictionary<double, double[][]> LibMtl = new()
    {
        [1.0] =
        [
            [0.5, 2, 0.83333333333333337], [0.55555555555555558, 2.2222222222222223, 0.90909090909090906],
            [0.66666666666666663, 2.5, 1], [0.76923076923076916, 3.3333333333333335, 1.1111111111111112],
            [0.95637583892617473, 3.8255033557046989, 1.4093959731543628], [1.0454878943506969, 4.1819515774027876, 1.5407190022010273],
            [1.9453924914675766, 7.7815699658703057, 2.866894197952218],
        ],
        [0.2] =
        [
            [0.5, 2, 0.83333333333333337], [0.55555555555555558, 2.2222222222222223, 0.90909090909090906],
            [0.66666666666666663, 2.5, 1], [0.76923076923076916, 3.3333333333333335, 1.1111111111111112],
            [1.1977251129264264, 4.7909004517057054, 0.25091945795315418], [0.66560938946218207, 7.1469263991264969, 0.11843540704334792],
            [3.2389339380999038, 0.031594539252917817, 0.2779324291581361],
        ],
    };

    /// <summary>The objective after the warm-up, F(L) = T·μ·log Σⱼ (Lⱼ/nⱼ)^{1/μ} (exp(log(x)/μ) = x^{1/μ}; the 1e-20 dropped).</summary>
    private static double Objective(double[] l, double[] nadir, double mu) =>
        l.Length * mu * Math.Log(l.Select((v, j) => Math.Pow(v / nadir[j], 1 / mu)).Sum());

    /// <summary>The reference: the weights of a run of <see cref="Script"/>-like steps, written from the objective —
    /// 1/Lᵢ in the warm-up, then ∂F/∂Lᵢ = T·(Lᵢ/nᵢ)^{1/μ}/(Lᵢ·Σⱼ(Lⱼ/nⱼ)^{1/μ}).</summary>
    private static double[][] Reference((int Epoch, double[] Losses)[] script, double mu, int warmup)
    {
        var result = new List<double[]>();
        var warmupLosses = script.Where(s => s.Epoch == warmup).Select(s => s.Losses).ToArray();
        foreach (var (epoch, l) in script)
        {
            if (epoch <= warmup) { result.Add([.. l.Select(v => 1 / v)]); continue; }
            double[] nadir = [.. Enumerable.Range(0, l.Length).Select(i => warmupLosses.Average(w => w[i]))];
            double sum = l.Select((v, j) => Math.Pow(v / nadir[j], 1 / mu)).Sum();
            result.Add([.. l.Select((v, i) => l.Length * Math.Pow(v / nadir[i], 1 / mu) / (v * sum))]);
        }
        return [.. result];
    }

    /// <summary>Runs <paramref name="script"/> through a weighting, calling EndEpoch between epochs; the weights per step.</summary>
    private static double[][] Run<T>(Backend<T> backend, (int Epoch, double[] Losses)[] script, double mu, int warmup)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int tasks = script[0].Losses.Length;
        using var stch = new StchWeighting<T>(backend, tasks, mu, warmup);
        using var losses = backend.Allocate<T>(tasks);
        var result = new List<double[]>();
        int epoch = 0;
        foreach (var (e, l) in script)
        {
            for (; epoch < e; epoch++) stch.EndEpoch(new double[tasks], []);
            backend.Upload<T>([.. l.Select(T.CreateTruncating)], losses.View);
            stch.Update(losses.View);
            result.Add([.. backend.ToArray(stch.Weights).Select(double.CreateTruncating)]);
        }
        return [.. result];
    }

    /// <summary>float32 on every device against the float64 reference of the float32-rounded losses: rtol 2e-5 (the
    /// nadir sums are kept in float32 on the device, the arithmetic in float64).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Weights_match_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        var rounded = Script.Select(s => (s.Epoch, Array.ConvertAll(Tolerance.ToFloat(s.Losses), v => (double)v))).ToArray();
        foreach (double mu in new[] { 1.0, 0.2, 3.0 })
            foreach (int warmup in new[] { 0, 1, 2 })
            {
                var expected = Reference(rounded, mu, warmup);
                var actual = Run(backend, rounded, mu, warmup);
                for (int s = 0; s < expected.Length; s++)
                    Tolerance.AllClose(expected[s], actual[s], 2e-5, 0, $"μ = {mu}, W = {warmup}, step {s}");
            }
    }

    /// <summary>LibMTL's STCH run under torch: float64 on the reference device to rtol 1e-12, float32 on every device to 2e-5.</summary>
    [Fact]
    public void Weights_match_LibMTL_in_float64()
    {
        foreach (var (mu, expected) in LibMtl)
        {
            var actual = Run(TestDevices.Reference, Script, mu, 1);
            for (int s = 0; s < expected.Length; s++) Tolerance.AllClose(expected[s], actual[s], 1e-12, 0, $"μ = {mu}, step {s}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Weights_match_LibMTL_in_float32(string device)
    {
        foreach (var (mu, expected) in LibMtl)
        {
            var actual = Run(TestDevices.Get(device), Script, mu, 1);
            for (int s = 0; s < expected.Length; s++) Tolerance.AllClose(expected[s], actual[s], 2e-5, 0, $"μ = {mu}, step {s}");
        }
    }

    /// <summary>The weights are ∂F/∂Lᵢ of the smooth Tchebycheff objective (central differences of F, h = 1e-6·Lᵢ, float64;
    /// rtol 1e-6 plus 1e-8 absolute: F is O(1), so its rounding over 2h is ~1e-9 where a weight is tiny at small μ).</summary>
    [Fact]
    public void The_weights_are_the_partial_derivatives_of_the_smooth_tchebycheff_objective()
    {
        double[] nadir = [.. Enumerable.Range(0, 3).Select(i => Script.Where(s => s.Epoch == 1).Average(s => s.Losses[i]))];
        foreach (double mu in new[] { 1.0, 0.2, 0.05 })
        {
            var w = Run(TestDevices.Reference, Script, mu, 1);
            for (int s = 4; s < Script.Length; s++)
            {
                var l = Script[s].Losses;
                for (int i = 0; i < l.Length; i++)
                {
                    double h = 1e-6 * l[i];
                    var up = (double[])l.Clone(); up[i] += h;
                    var down = (double[])l.Clone(); down[i] -= h;
                    double numeric = (Objective(up, nadir, mu) - Objective(down, nadir, mu)) / (2 * h);
                    Assert.True(Math.Abs(numeric - w[s][i]) <= 1e-6 * Math.Abs(w[s][i]) + 1e-8, $"μ = {mu}, step {s}, i = {i}: ∂F/∂Lᵢ ≈ {numeric:R}, wᵢ = {w[s][i]:R}");
                }
            }
        }
    }

    /// <summary>The paper's Proposition: μ·log Σ exp(ℓⱼ/μ) lies in [max ℓ, max ℓ + μ log T] and tends to the Tchebycheff
    /// max as μ → 0; its gradient in ℓ, the softmax pᵢ = wᵢ(Lᵢ + 1e-20·nᵢ)/T, sums to 1 and concentrates on the argmax of
    /// the normalised log-losses: at μ = 1e-3 the worst task (here task 0 of the last step, log(0.9/1.4) against
    /// log(0.05/0.35) and log(0.3/0.95)) gets p ≥ 1 − 1e-9.</summary>
    [Fact]
    public void As_mu_goes_to_zero_the_weight_goes_to_the_worst_normalised_task()
    {
        double[] nadir = [1.4, 0.35, 0.95];
        var l = Script[^1].Losses;
        double max = l.Select((v, i) => Math.Log(v / nadir[i])).Max();
        foreach (double mu in new[] { 1.0, 0.1, 0.01, 1e-3 })
        {
            var w = Run(TestDevices.Reference, Script, mu, 1)[^1];
            double[] p = [.. w.Select((v, i) => v * (l[i] + 1e-20 * nadir[i]) / l.Length)];
            Assert.Equal(1.0, p.Sum(), 1e-12);
            double smooth = mu * Math.Log(l.Select((v, i) => Math.Exp((Math.Log(v / nadir[i]) - max) / mu)).Sum()) + max;
            Assert.InRange(smooth, max - 1e-12, max + mu * Math.Log(l.Length) + 1e-12);
            if (mu == 1e-3) Assert.True(p[0] >= 1 - 1e-9, $"p = ({string.Join(", ", p)})");
        }
    }

    /// <summary>The state is the method's own: named <c>stch.*</c> views; bad settings are refused naming them.</summary>
    [Fact]
    public void State_is_named_and_bad_settings_are_refused()
    {
        var cpu = new CpuBackend<float>();
        using var stch = new StchWeighting<float>(cpu, 2);
        Assert.Equal(["stch.warmup_loss_sums", "stch.warmup_steps", "stch.epoch"], stch.StateBuffers.Select(b => b.Name));
        Assert.Contains("mu", Assert.Throws<ArgumentOutOfRangeException>(() => new StchWeighting<float>(cpu, 2, mu: 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StchWeighting<float>(cpu, 2, warmupEpochs: -1));
        var error = Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("stch", new Dictionary<string, string> { ["mu"] = "-1" }, ["a", "b"]));
        Assert.Contains("mu", error.Message);
    }

    /// <summary>Through the registry (W = 0): epoch 0's steps sum the losses, then after the step's EndEpoch the warm
    /// steps run STCH proper: the weights are the reference's from the step's own losses and the nadir, 0 bytes allocated
    /// per warm step, and the loss falls.</summary>
    [Theory]
    [InlineData("stch")]
    [InlineData("stch+pcgrad")]
    public void Stch_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions
        {
            Method = method, LearningRate = 0.01, MethodOptions = new Dictionary<string, string> { ["warmup-epochs"] = "0", ["mu"] = "0.5" },
        }, 16);
        Assert.Equal("stch", step.Plan.Weighting.Name);
        var stch = Assert.IsType<StchWeighting<float>>(step.Weighting);
        var epoch0 = new List<double[]>();
        for (int b = 0; b < 4; b++)
        {
            step.Run(device, b * 16, 16);
            var l = Array.ConvertAll(cpu.ToArray(step.TaskLosses), v => (double)v);
            epoch0.Add(l);
            Tolerance.AllClose([.. l.Select(v => 1 / v)], cpu.ToArray(step.Weighting.Weights), 1e-6, 0, $"warm-up weights, step {b}");
        }
        step.EndEpoch([1, 1], [0, 0]);
        step.Run(device, 0, 16);
        var losses = Array.ConvertAll(cpu.ToArray(step.TaskLosses), v => (double)v);
        var expected = Reference([.. epoch0.Select(l => (0, l)), (1, losses)], 0.5, 0)[^1];
        Tolerance.AllClose(expected, cpu.ToArray(stch.Weights), 2e-5, 0, "STCH weights after the warm-up");
        Assert.Equal([1f], cpu.ToArray(stch.StateBuffers[2].Values));
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
    }

    /// <summary><c>mtl train --method stch</c> with its options trains past the warm-up (exit 0); a bad option value is a
    /// usage error naming it.</summary>
    [Fact]
    public void Mtl_train_takes_stch_and_its_options()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"stch-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "4" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "stch", "--method-option", "mu=0.5", "--method-option", "warmup-epochs=1"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "stch", "--method-option", "mu=0"]), 2, "option 'mu': '0'");
        }
        finally { File.Delete(csv); }
    }
}
