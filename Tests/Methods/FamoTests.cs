using System.Text.Json;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>famo</c> (Liu et al. 2023): against the authors' FAMO class run in PyTorch 1.13 (Tests/Fixtures/famo_torch.json,
/// make_famo_fixture.py), against a float64 reference written here from the paper's formulas (textbook Adam, the full
/// softmax Jacobian, the objective's partial derivatives), on every device over carried steps; the paper's properties
/// (weights on the simplex, equal decrease rates keep the logits equal, the log-loss makes a task's scale irrelevant);
/// the NaN rule; and training through the registry with no allocation per warm step.
/// </summary>
public sealed class FamoTests
{
    /// <summary>FAMO from its definitions, plain loops in float64.</summary>
    private sealed class Reference(int tasks, double lr = 0.025, double gamma = 1e-3, double eps = 1e-8, double minLoss = 0)
    {
        public readonly double[] W = new double[tasks], M = new double[tasks], V = new double[tasks];
        private double[]? _previous;
        public int AdamSteps;

        public double[] Z()
        {
            double[] e = [.. W.Select(Math.Exp)];
            double s = e.Sum();
            return [.. e.Select(v => v / s)];
        }

        /// <summary>One step: the logits from (previous, these) losses, then λᵢ = ∂/∂Lᵢ of Σ zᵢ log Dᵢ / c (c constant).</summary>
        public double[] Step(double[] losses)
        {
            if (_previous is not null)
            {
                double[] delta = [.. losses.Select((l, i) => Math.Log(_previous[i] - minLoss + eps) - Math.Log(l - minLoss + eps))];
                if (delta.All(double.IsFinite))
                {
                    var z = Z();
                    AdamSteps++;
                    for (int i = 0; i < tasks; i++)
                    {
                        double g = gamma * W[i];
                        for (int j = 0; j < tasks; j++) g += z[j] * ((i == j ? 1 : 0) - z[i]) * delta[j];   // (Jᵀδ)ᵢ, J_ji = ∂z_j/∂w_i
                        M[i] = 0.9 * M[i] + 0.1 * g;
                        V[i] = 0.999 * V[i] + 0.001 * g * g;
                    }
                    for (int i = 0; i < tasks; i++)
                    {
                        double mHat = M[i] / (1 - Math.Pow(0.9, AdamSteps)), vHat = V[i] / (1 - Math.Pow(0.999, AdamSteps));
                        W[i] -= lr * mHat / (Math.Sqrt(vHat) + 1e-8);
                    }
                }
            }
            _previous = (double[])losses.Clone();
            var zNow = Z();
            double c = 0;
            for (int i = 0; i < tasks; i++) c += zNow[i] / (losses[i] - minLoss + eps);
            return [.. losses.Select((l, i) => zNow[i] / (c * (l - minLoss + eps)))];
        }
    }

    private static double[][] Losses(int tasks, int steps, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, steps).Select(t => Enumerable.Range(0, tasks)
            .Select(i => (0.3 + i) * Math.Exp(-0.03 * (i + 1) * t) * (0.8 + 0.4 * random.NextDouble())).ToArray())];
    }

    private static JsonElement Fixture() => JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("famo_torch.json"))).RootElement;

    private static double[] Row(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetDouble())];

    /// <summary>Runs a fixture case on <paramref name="backend"/>: per step the weights λ and the logits after the update,
    /// then the final Adam state, each checked by <paramref name="check"/>(expected, actual, what).</summary>
    /// <remarks>Next-batch (<paramref name="sameBatch"/> false): Update(L[t]) for every t, then Update(L[N]) makes torch's
    /// last logit step. Same-batch: Update(L[t]) forms λ, AfterStep(L[t+1]) is torch's update(curr_loss).</remarks>
    private static void RunCase<T>(Backend<T> backend, JsonElement c, Action<double[], double[], string> check, bool sameBatch = false)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int tasks = c.GetProperty("tasks").GetInt32();
        string name = c.GetProperty("name").GetString()! + (sameBatch ? " (same-batch)" : "");
        using var famo = new FamoWeighting<T>(backend, tasks, c.GetProperty("w_lr").GetDouble(), c.GetProperty("gamma").GetDouble(),
            1e-8, c.GetProperty("min_loss").GetDouble(), sameBatch);
        using var losses = backend.Allocate<T>(tasks);
        double[] D(View<T> v) => Array.ConvertAll(backend.ToArray(v), x => double.CreateTruncating(x));
        var rows = c.GetProperty("losses");
        int n = rows.GetArrayLength();
        double[] Losses(int t) => t < n ? Row(rows[t]) : Row(c.GetProperty("next_loss"));
        for (int t = 0; t < n; t++)
        {
            backend.Upload<T>(Array.ConvertAll(Losses(t), T.CreateTruncating), losses.View);
            famo.Update(losses.View);
            check(Row(c.GetProperty("logits")[t]), D(famo.Logits), $"{name}: logits at step {t}");
            check(Row(c.GetProperty("weights")[t]), D(famo.Weights), $"{name}: λ at step {t}");
            if (!sameBatch) continue;
            backend.Upload<T>(Array.ConvertAll(Losses(t + 1), T.CreateTruncating), losses.View);
            famo.AfterStep(losses.View);
        }
        // torch makes its last update from the losses after the last step; so does the next Update (next-batch).
        backend.Upload<T>(Array.ConvertAll(Losses(n), T.CreateTruncating), losses.View);
        if (!sameBatch) famo.Update(losses.View);
        check(Row(c.GetProperty("final_logits")), D(famo.Logits), $"{name}: final logits");
        var state = D(famo.State);
        check(Row(c.GetProperty("exp_avg")), state[tasks..(2 * tasks)], $"{name}: exp_avg");
        check(Row(c.GetProperty("exp_avg_sq")), state[(2 * tasks)..(3 * tasks)], $"{name}: exp_avg_sq");
        Assert.Equal(c.GetProperty("adam_steps").GetInt32(), (int)state[4 * tasks]);
    }

    /// <summary>The authors' class in float64: logits, λ and Adam's moments to 1e-12 (relative, or absolute near 0).</summary>
    [Fact]
    public void Matches_the_authors_FAMO_class_in_float64()
    {
        var cases = Fixture().GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("dtype").GetString() == "float64").ToArray();
        Assert.Equal(3, cases.Length);
        foreach (var c in cases)
            foreach (bool sameBatch in new[] { false, true })
                RunCase(TestDevices.Reference, c, (e, a, what) => Tolerance.AllClose(e, a, 1e-12, 1e-12, what), sameBatch);
    }

    /// <summary>The authors' class run in float32 (torch's default dtype), on every float32 device: λ and logits to 1e-6
    /// absolute (they are O(1); torch rounds each op to float32, the kernel each stored value), the second moments
    /// (O(1e-4)) to 1e-6 relative.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_authors_FAMO_class_in_float32(string device)
    {
        var backend = TestDevices.Get(device);
        var cases = Fixture().GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("dtype").GetString() == "float32").ToArray();
        Assert.Equal(3, cases.Length);
        foreach (var c in cases)
            foreach (bool sameBatch in new[] { false, true })
                RunCase(backend, c, (e, a, what) => Tolerance.AllClose(e, a, 1e-5, 1e-6, what), sameBatch);
    }

    /// <summary>With one full batch per step and no dropout, the batch re-evaluated after the step (<c>update=same-batch</c>,
    /// the authors' schedule, a second forward) is the next step's forward, so the two schedules train the same model bit
    /// for bit: the claim of docs/maths.md §18.10, through the step's second forward. Then, with mini-batches, they differ.</summary>
    [Fact]
    public void Same_batch_and_next_batch_agree_bit_for_bit_on_full_batches()
    {
        var cpu = new CpuBackend<float>();
        float[][] Run(string update, int rows, out float[] weights)
        {
            using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
            using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
            using var step = new TrainingStep(model, new StepOptions
            {
                Method = "famo", LearningRate = 0.02, MethodOptions = new Dictionary<string, string> { ["w-lr"] = "0.1", ["update"] = update },
            }, 64);
            Assert.Equal(update == "same-batch", ((FamoWeighting<float>)step.Weighting).ReevaluatesBatch);
            var trace = new List<float[]>();
            for (int s = 0; s < 12; s++)
            {
                step.Run(device, rows == 64 ? 0 : (s % 4) * rows, rows);
                trace.Add(cpu.ToArray(step.Weighting.Weights));
            }
            weights = cpu.ToArray(model.Parameters.Values);
            return [.. trace];
        }
        var next = Run("next-batch", 64, out var nextModel);
        var same = Run("same-batch", 64, out var sameModel);
        for (int s = 0; s < next.Length; s++) Assert.Equal(next[s], same[s]);
        Assert.Equal(nextModel, sameModel);
        Assert.NotEqual(next[1], next[^1]);                                             // λ moved: the test can tell
        var nextMini = Run("next-batch", 16, out _);
        var sameMini = Run("same-batch", 16, out _);
        Assert.NotEqual(nextMini[^1], sameMini[^1]);
        using var famo = new FamoWeighting<float>(cpu, 2);
        Assert.Throws<InvalidOperationException>(() => famo.AfterStep(famo.Weights));
    }

    public static TheoryData<string, int, double, double, double, double> Settings => new()
    {
        { TestDevices.Cpu, 2, 0.025, 1e-3, 1e-8, 0 },
        { TestDevices.Cpu, 3, 0.1, 0.01, 1e-3, 0.05 },
        { TestDevices.Cpu, 6, 0.05, 0, 1e-8, 0 },
        { TestDevices.IlgpuCpu, 3, 0.1, 0.01, 1e-3, 0.05 },
        { TestDevices.IlgpuCpu, 5, 0.025, 1e-3, 1e-8, 0 },
        { TestDevices.Cuda, 4, 0.025, 1e-3, 1e-8, 0 },
    };

    /// <summary>30 carried steps against the reference: float64 (the SIMD path's double instantiation) to 1e-12, and the
    /// float32 device to 2e-5 relative + 1e-6 absolute (its state is stored in float32 every step, the reference's is not).</summary>
    [Theory]
    [MemberData(nameof(Settings))]
    public void Matches_the_float64_reference_over_carried_steps(string device, int tasks, double lr, double gamma, double eps, double minLoss)
    {
        var f32 = TestDevices.Get(device);
        var f64 = TestDevices.Reference;
        using var a = new FamoWeighting<double>(f64, tasks, lr, gamma, eps, minLoss);
        using var b = new FamoWeighting<float>(f32, tasks, lr, gamma, eps, minLoss);
        using var la = f64.Allocate<double>(tasks);
        using var lb = f32.Allocate<float>(tasks);
        Reference aReference = new(tasks, lr, gamma, eps, minLoss), bReference = new(tasks, lr, gamma, eps, minLoss);
        foreach (var (l, t) in Losses(tasks, 30, seed: tasks).Select((l, t) => (l, t)))
        {
            var expected = aReference.Step(l);
            f64.Upload<double>(l, la.View);
            a.Update(la.View);
            Tolerance.AllClose(expected, f64.ToArray(a.Weights), 1e-12, 1e-14, $"float64 λ, step {t}");
            Tolerance.AllClose(aReference.W, f64.ToArray(a.Logits), 1e-12, 1e-14, $"float64 logits, step {t}");

            var l32 = Tolerance.ToFloat(l);
            var expected32 = bReference.Step(Tolerance.ToDouble(l32));
            f32.Upload<float>(l32, lb.View);
            b.Update(lb.View);
            Tolerance.AllClose(expected32, f32.ToArray(b.Weights), 2e-5, 1e-6, $"{device} λ, step {t}");
            Tolerance.AllClose(bReference.W, f32.ToArray(b.Logits), 2e-5, 1e-6, $"{device} logits, step {t}");
        }
        Assert.True(aReference.W.Max() - aReference.W.Min() > 0.05, "the logits moved apart: the test can tell");
    }

    /// <summary>The paper's update is a convex combination of the task gradients: λ &gt; 0 with Σλ = 1,
    /// on every device, over steps where the losses rise and fall by orders of magnitude.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_weights_stay_on_the_simplex(string device)
    {
        var backend = TestDevices.Get(device);
        using var famo = new FamoWeighting<float>(backend, 4, learningRate: 0.5);
        using var losses = backend.Allocate<float>(4);
        var random = new Random(7);
        for (int t = 0; t < 60; t++)
        {
            backend.Upload<float>([.. Enumerable.Range(0, 4).Select(i => (float)Math.Pow(10, 4 * random.NextDouble() - 2 - i))], losses.View);
            famo.Update(losses.View);
            var w = backend.ToArray(famo.Weights);
            Assert.All(w, v => Assert.True(v > 0, $"step {t}: λ = ({string.Join(", ", w)})"));
            Assert.Equal(1.0, w.Sum(v => (double)v), 1e-6);
        }
    }

    /// <summary>Tasks whose losses fall at the same rate (Lᵢ(t) = aᵢ·r(t), any aᵢ) have δᵢ all equal, Jᵀδ = 0 and the logits,
    /// all starting at 0, stay equal: FAMO changes nothing while the decrease is balanced. In floating point the δᵢ differ by
    /// an ulp of log, ~1e-16, which Adam divides by ε_Adam = 1e-8 (not by √v̂ ~ 1e-16, below ε): at most ~lr·1e-8 per step,
    /// so 1e-7 after 40 steps; unequal rates move them 1e-3 apart in one step.</summary>
    [Fact]
    public void Equal_decrease_rates_keep_the_logits_equal()
    {
        var backend = TestDevices.Reference;
        double[] scale = [0.2, 3.0, 40.0];
        using var famo = new FamoWeighting<double>(backend, 3, learningRate: 0.1, weightDecay: 0, epsilon: 0);
        using var losses = backend.Allocate<double>(3);
        var random = new Random(3);
        double r = 1;
        for (int t = 0; t < 40; t++)
        {
            r *= 0.7 + 0.6 * random.NextDouble();          // rises and falls, the same factor for every task
            backend.Upload<double>([.. scale.Select(a => a * r)], losses.View);
            famo.Update(losses.View);
            var w = backend.ToArray(famo.Logits);
            Assert.True(w.Max() - w.Min() <= 1e-7, $"step {t}: logits ({string.Join(", ", w)})");
        }
        // and with unequal rates they do move apart
        backend.Upload<double>([0.2 * r, 3.0 * r * 0.5, 40.0 * r], losses.View);
        famo.Update(losses.View);
        var moved = backend.ToArray(famo.Logits);
        Assert.True(moved.Max() - moved.Min() > 1e-3, $"logits ({string.Join(", ", moved)})");
    }

    /// <summary>The log-loss objective does not see a task's scale: multiplying task 1's losses by c leaves the logits and
    /// the weighted gradients λᵢ∇Lᵢ unchanged (λ₁ ∝ 1/c, so λ₁·c·∇L₁ = λ₁∇L₁ of the unscaled run) up to the common factor
    /// Σλ. Checked through the ratios λ₁·c/λ₀ with ε = 0 (the identity is exact then), float64, 1e-12.</summary>
    [Theory]
    [InlineData(1e3)]
    [InlineData(1e-4)]
    public void Rescaling_a_task_loss_changes_neither_the_logits_nor_the_direction(double c)
    {
        var backend = TestDevices.Reference;
        using var plain = new FamoWeighting<double>(backend, 3, learningRate: 0.1, epsilon: 0);
        using var scaled = new FamoWeighting<double>(backend, 3, learningRate: 0.1, epsilon: 0);
        using var lp = backend.Allocate<double>(3);
        using var ls = backend.Allocate<double>(3);
        foreach (var l in Losses(3, 25, seed: 11))
        {
            backend.Upload<double>(l, lp.View);
            backend.Upload<double>([l[0], c * l[1], l[2]], ls.View);
            plain.Update(lp.View);
            scaled.Update(ls.View);
            Tolerance.AllClose(backend.ToArray(plain.Logits), backend.ToArray(scaled.Logits), 1e-12, 1e-12, "logits");
            var (p, s) = (backend.ToArray(plain.Weights), backend.ToArray(scaled.Weights));
            Assert.Equal(p[1] / p[0], s[1] * c / s[0], 1e-12 * p[1] / p[0]);
            Assert.Equal(p[2] / p[0], s[2] / s[0], 1e-12 * p[2] / p[0]);
        }
    }

    /// <summary>A NaN loss: every weight NaN on every device (the step's non-finite guard then skips the model step), the
    /// logits untouched by it, and the next two steps (NaN as the previous loss, then finite) move on without NaN.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_NaN_loss_gives_NaN_weights_and_leaves_the_logits_alone(string device)
    {
        var backend = TestDevices.Get(device);
        using var famo = new FamoWeighting<float>(backend, 3, learningRate: 0.1);
        using var losses = backend.Allocate<float>(3);
        foreach (var l in new[] { new[] { 1f, 2f, 3f }, [0.5f, 1.9f, 2.0f] })
        {
            backend.Upload<float>(l, losses.View);
            famo.Update(losses.View);
        }
        var before = backend.ToArray(famo.Logits);
        backend.Upload<float>([0.4f, float.NaN, 1.0f], losses.View);
        famo.Update(losses.View);
        Assert.All(backend.ToArray(famo.Weights), w => Assert.True(float.IsNaN(w)));
        Assert.Equal(before, backend.ToArray(famo.Logits));
        backend.Upload<float>([0.3f, 1.5f, 0.9f], losses.View);
        famo.Update(losses.View);                                   // previous losses hold a NaN: no logit update
        Assert.Equal(before, backend.ToArray(famo.Logits));
        Assert.All(backend.ToArray(famo.Weights), w => Assert.True(float.IsFinite(w) && w > 0));
        backend.Upload<float>([0.2f, 1.4f, 0.8f], losses.View);
        famo.Update(losses.View);
        Assert.NotEqual(before, backend.ToArray(famo.Logits));
        Assert.All(backend.ToArray(famo.Logits), w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void Bad_settings_are_refused_naming_them()
    {
        var cpu = new CpuBackend<float>();
        Assert.Contains("learning rate", Assert.Throws<ArgumentOutOfRangeException>(() => new FamoWeighting<float>(cpu, 2, learningRate: 0)).Message);
        Assert.Contains("γ", Assert.Throws<ArgumentOutOfRangeException>(() => new FamoWeighting<float>(cpu, 2, weightDecay: -1)).Message);
        Assert.Contains("ε", Assert.Throws<ArgumentOutOfRangeException>(() => new FamoWeighting<float>(cpu, 2, epsilon: double.NaN)).Message);
        var error = Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("famo", new Dictionary<string, string> { ["w-lr"] = "-1" }, ["a", "b"]));
        Assert.Contains("w-lr", error.Message);
    }

    /// <summary>Through the registry: <c>famo</c> and <c>famo+pcgrad</c> train (loss down) with 0 bytes allocated per warm
    /// step; the step's weights are the reference's, carried from the step's own losses.</summary>
    [Theory]
    [InlineData("famo")]
    [InlineData("famo+pcgrad")]
    public void Famo_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01, MethodOptions = new Dictionary<string, string> { ["w-lr"] = "0.05" } }, 16);
        Assert.Equal("famo", step.Plan.Weighting.Name);
        var famo = Assert.IsType<FamoWeighting<float>>(step.Weighting);
        var reference = new Reference(2, lr: 0.05);
        for (int b = 0; b < 8; b++)
        {
            step.Run(device, (b % 4) * 16, 16);
            var expected = reference.Step(Array.ConvertAll(cpu.ToArray(step.TaskLosses), v => (double)v));
            Tolerance.AllClose(expected, cpu.ToArray(step.Weighting.Weights), 2e-5, 1e-6, $"λ at step {b}");
        }
        Tolerance.AllClose(reference.W, cpu.ToArray(famo.Logits), 2e-5, 1e-6, "logits");
        Assert.True(Math.Abs(reference.W[0] - reference.W[1]) > 1e-3, "the logits moved");
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
    }

    /// <summary><c>mtl train --method famo</c> with its options trains (exit 0); a bad option value is a usage error naming it.</summary>
    [Fact]
    public void Mtl_train_takes_famo_and_its_options()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"famo-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "famo", "--method-option", "w-lr=0.05", "--method-option", "gamma=0.01"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "famo", "--method-option", "gamma=-1"]), 2, "option 'gamma': '-1'");
        }
        finally { File.Delete(csv); }
    }

    /// <summary><c>update=same-batch</c>: the step's second forward and the logit step after the optimizer allocate nothing
    /// once warm either, and the run trains.</summary>
    [Fact]
    public void Same_batch_famo_allocates_nothing_per_warm_step()
    {
        MethodTraining.TrainsThroughTheRegistry("famo", new Dictionary<string, string> { ["update"] = "same-batch" },
            step => Assert.True(((FamoWeighting<float>)step.Weighting).ReevaluatesBatch));
    }
}
