using System.Numerics;
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
/// <c>gradnorm</c> (Chen et al. 2018; LibMTL <c>GradNorm</c>): learned weights wᵢ stepped on ∂/∂w Σ|wᵢnᵢ − Ḡrᵢ^α| with the
/// targets constant, Σw = T. Against LibMTL's formulas run in PyTorch 1.13 (Tests/Fixtures/make_gradnorm_fixture.py), a
/// float64 reference written here with plain loops (Math.Pow, Math.Sign, the softmax Jacobian written out), on every
/// device; the properties (Σw = T, identical tasks keep equal weights, α = 0 equalises the gradient norms, a NaN keeps
/// the state); and the step's wiring (the weights it uses, the update it makes, no allocation per warm step).
/// </summary>
public sealed class GradNormTests
{
    /// <summary>The paper's algorithm, float64, plain loops: w (or LibMTL's logits p, w = T·softmax(p)) stepped by Adam
    /// (textbook bias-corrected form) or SGD on dL_grad/dθ, then (paper) clamped at 0 and renormalised to Σw = T. A gap within
    /// 10⁻⁵·Ḡ is a tie (the engine's rule, <see cref="GradNormSolver.TieTolerance"/>; the fixtures never come near it).</summary>
    private sealed class Reference(int tasks, double alpha, double lr, bool adam, bool softmax)
    {
        public double[] W = Ones(tasks), Theta = Ones(tasks), M = new double[tasks], V = new double[tasks], L0 = new double[tasks];
        public int N;
        /// <summary>The smallest |Gᵢ − tᵢ|/Ḡ over the steps so far: how near a sign flip the data came.</summary>
        public double Closest = double.PositiveInfinity;
        /// <summary>dL_grad/dθ of the last step.</summary>
        public double[] Gradient = [];

        private static double[] Ones(int n) => Enumerable.Repeat(1.0, n).ToArray();

        public void Step(double[] gradients, double[] losses)
        {
            int length = gradients.Length / tasks;
            var norm = new double[tasks];
            for (int i = 0; i < tasks; i++)
            {
                double sq = 0;
                for (int k = 0; k < length; k++) sq += gradients[i * length + k] * gradients[i * length + k];
                norm[i] = Math.Sqrt(sq);
            }
            for (int i = 0; i < tasks; i++)
                if (L0[i] == 0 && losses[i] > 0) L0[i] = losses[i];
            var active = Enumerable.Range(0, tasks).Where(i => losses[i] > 0 && L0[i] > 0).ToArray();
            if (active.Length == 0) return;
            double gBar = active.Sum(i => W[i] * norm[i]) / active.Length;
            double meanRatio = active.Sum(i => losses[i] / L0[i]) / active.Length;
            var d = new double[tasks];
            foreach (int i in active)
            {
                double target = gBar * Math.Pow(losses[i] / L0[i] / meanRatio, alpha), gap = W[i] * norm[i] - target;
                d[i] = Math.Abs(gap) <= GradNormSolver.TieTolerance * gBar ? 0 : Math.Sign(gap) * norm[i];   // a rounding-level tie: 0
                if (gBar > 0) Closest = Math.Min(Closest, Math.Abs(W[i] * norm[i] - target) / gBar);
            }
            var g = new double[tasks];
            for (int k = 0; k < tasks; k++)
                if (!softmax) g[k] = d[k];
                else
                    for (int i = 0; i < tasks; i++) g[k] += d[i] * W[i] * ((i == k ? 1 : 0) - W[k] / tasks); // ∂wᵢ/∂p_k
            Gradient = g;
            N++;
            for (int i = 0; i < tasks; i++)
            {
                if (!adam) { Theta[i] -= lr * g[i]; continue; }
                M[i] = 0.9 * M[i] + 0.1 * g[i];
                V[i] = 0.999 * V[i] + 0.001 * g[i] * g[i];
                double mHat = M[i] / (1 - Math.Pow(0.9, N)), vHat = V[i] / (1 - Math.Pow(0.999, N));
                Theta[i] -= lr * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
            if (softmax)
            {
                double total = Theta.Sum(Math.Exp);
                for (int i = 0; i < tasks; i++) W[i] = tasks * Math.Exp(Theta[i]) / total;
            }
            else
            {
                double sum = Theta.Sum(x => Math.Max(x, 0));
                for (int i = 0; i < tasks; i++) W[i] = Theta[i] = tasks * Math.Max(Theta[i], 0) / sum;
            }
        }
    }

    private static GradNormSettings Settings(string weights, string optimizer, double alpha, double lr) =>
        new(alpha, lr, optimizer == "sgd" ? GradNormSolver.Sgd : GradNormSolver.Adam, weights == "softmax" ? GradNormSolver.Softmax : GradNormSolver.Paper);

    /// <summary>Runs the weighting over the steps: per step the weights it hands the step and those it leaves for the next.</summary>
    private static (double[] Used, double[] Next)[] Run<T>(Backend<T> backend, GradNormSettings settings, int tasks, double[][] gradients, double[][] losses)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = gradients[0].Length / tasks;
        using var weighting = new GradNormWeighting<T>(backend, tasks, settings);
        using var g = backend.Allocate<T>(tasks * length);
        using var l = backend.Allocate<T>(tasks);
        var result = new (double[], double[])[gradients.Length];
        double[] Read(View<T> v) => Array.ConvertAll(backend.ToArray(v), double.CreateTruncating);
        for (int s = 0; s < gradients.Length; s++)
        {
            backend.Upload<T>(Array.ConvertAll(gradients[s], T.CreateTruncating), g.View);
            backend.Upload<T>(Array.ConvertAll(losses[s], T.CreateTruncating), l.View);
            weighting.Update(l.View);
            var used = Read(weighting.Weights);
            weighting.ObserveTaskGradients(g.View, length, l.View);
            result[s] = (used, Read(weighting.StateBuffers[0].Values));
        }
        return result;
    }

    private static Backend<float> Float32(string device) => TestDevices.Get(device);

    public static TheoryData<string> AllDevices()
    {
        var data = new TheoryData<string> { "float64" };
        foreach (var d in TestDevices.Float32) data.Add(d.Data);
        return data;
    }

    private static (double[] Used, double[] Next)[] RunOn(string device, GradNormSettings s, int tasks, double[][] g, double[][] l) =>
        device == "float64" ? Run(TestDevices.Reference, s, tasks, g, l) : Run(Float32(device), s, tasks, g, l);

    /// <summary>LibMTL's GradNorm formulas in PyTorch 1.13, four cases (softmax or paper parameterisation, Adam or SGD,
    /// α = 1.5, 0.5, 0), six steps each, T = 3: the weights each step uses and leaves, float64 within 1e-12, float32 within
    /// 1e-5 (the state is float32: one rounding per step, no sign of Gᵢ − tᵢ near a flip, checked). The float64 reference's
    /// gradients dL_grad/dθ match PyTorch's autograd within 1e-12 too.</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Matches_LibMTL_GradNorm_in_PyTorch(string device)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("gradnorm_torch.json"))).RootElement;
        int tasks = root.GetProperty("tasks").GetInt32();
        double[][] Rows(string name) => [.. root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray())];
        var gradients = Rows("grads");
        var losses = Rows("losses");
        double tolerance = device == "float64" ? 1e-12 : 1e-5;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            string weights = c.GetProperty("weights").GetString()!, optimizer = c.GetProperty("optimizer").GetString()!;
            double alpha = c.GetProperty("alpha").GetDouble(), lr = c.GetProperty("lr").GetDouble();
            var steps = c.GetProperty("steps").EnumerateArray().ToArray();
            double[] Of(int s, string name) => [.. steps[s].GetProperty(name).EnumerateArray().Select(v => v.GetDouble())];
            string what = $"{weights}, {optimizer}, α = {alpha}";

            var reference = new Reference(tasks, alpha, lr, optimizer == "adam", weights == "softmax");
            var actual = RunOn(device, Settings(weights, optimizer, alpha, lr), tasks, gradients, losses);
            for (int s = 0; s < steps.Length; s++)
            {
                Tolerance.AllClose(Of(s, "used"), actual[s].Used, 0, tolerance, $"{what}: weights of step {s}");
                Tolerance.AllClose(Of(s, "next"), actual[s].Next, 0, tolerance, $"{what}: weights after step {s}");
                Tolerance.AllClose(Of(s, "used"), reference.W, 0, 1e-12, $"{what}: the reference's weights of step {s}");
                reference.Step(gradients[s], losses[s]);
                Tolerance.AllClose(Of(s, "gradient"), reference.Gradient, 1e-12, 1e-12, $"{what}: the reference's dL_grad/dθ, step {s}");
                Tolerance.AllClose(Of(s, "next"), reference.W, 0, 1e-12, $"{what}: the reference's weights after step {s}");
            }
            Assert.True(reference.Closest > 1e-3, $"{what}: some |Gᵢ − tᵢ|/Ḡ = {reference.Closest:G3}, too near a sign flip for float32");
        }
    }

    /// <summary>The reference's gradient against PyTorch's autograd on the first step of every case (before any state
    /// differs): dL_grad/dw = sign(Gᵢ − tᵢ)·nᵢ at w = 1, and its softmax chain rule.</summary>
    [Fact]
    public void The_first_gradient_is_sign_times_norm_as_autograd_computes_it()
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("gradnorm_torch.json"))).RootElement;
        int tasks = root.GetProperty("tasks").GetInt32();
        var g = root.GetProperty("grads")[0].EnumerateArray().Select(v => v.GetDouble()).ToArray();
        int length = g.Length / tasks;
        var norm = Enumerable.Range(0, tasks).Select(i => Math.Sqrt(g.Skip(i * length).Take(length).Sum(v => v * v))).ToArray();
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            var autograd = c.GetProperty("steps")[0].GetProperty("gradient").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            double gBar = norm.Average();   // first step: r = 1, t = Ḡ
            var d = norm.Select(n => Math.Sign(n - gBar) * n).ToArray();
            double[] expected = c.GetProperty("weights").GetString() == "softmax" ? [.. d.Select(v => v - d.Sum() / tasks)] : d;
            Tolerance.AllClose(expected, autograd, 1e-12, 1e-12, $"{c.GetProperty("weights").GetString()}: step 0 gradient");
        }
    }

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var device in AllDevices())
            foreach (var (weights, optimizer) in new[] { ("paper", "adam"), ("softmax", "adam"), ("paper", "sgd"), ("softmax", "sgd") })
                data.Add(device.Data, weights, optimizer);
        return data;
    }

    /// <summary>Random data, T = 2..5, 8 carried steps, an unlabelled task (loss 0, gradient 0) in steps 0 and 4 (it is
    /// left out of the means, its Lᵢ(0) is its first nonzero loss): the float64 backend within 1e-12 of the reference,
    /// the float32 ones (SIMD CPU and ILGPU's CPU accelerator) within 2e-5 (float32 state, rounded once per step).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Carried_steps_match_the_float64_reference(string device, string weights, string optimizer)
    {
        double alpha = optimizer == "adam" ? 1.5 : 0.5, lr = optimizer == "adam" ? 0.025 : 0.05;
        for (int tasks = 2; tasks <= 5; tasks++)
        {
            var (gradients, losses) = RandomSteps(tasks, 7, 8, seed: 40 + tasks, unlabelled: tasks >= 3);
            var reference = new Reference(tasks, alpha, lr, optimizer == "adam", weights == "softmax");
            var actual = RunOn(device, Settings(weights, optimizer, alpha, lr), tasks, gradients, losses);
            for (int s = 0; s < gradients.Length; s++)
            {
                Tolerance.AllClose(reference.W, actual[s].Used, 0, device == "float64" ? 1e-12 : 2e-5, $"T = {tasks}, step {s}: weights used");
                reference.Step(gradients[s], losses[s]);
                Tolerance.AllClose(reference.W, actual[s].Next, 0, device == "float64" ? 1e-12 : 2e-5, $"T = {tasks}, step {s}: next weights");
            }
            Assert.True(reference.Closest > 1e-3, $"T = {tasks}: some |Gᵢ − tᵢ|/Ḡ = {reference.Closest:G3}, too near a sign flip for float32");
            Assert.True(actual[^1].Next.Zip(reference.W).All(p => Math.Abs(p.First - 1) > 1e-3 || Math.Abs(p.Second - 1) > 1e-3), "the weights moved");
        }
    }

    /// <summary>Gradients of P values per task (row i scaled by 1 + i), losses decaying at task-dependent rates with noise;
    /// with <paramref name="unlabelled"/>, task 1 has no label in step 0 and task 2 none in step 4 (loss and gradient 0).
    /// Values are float32-representable, so every device reads the same inputs.</summary>
    private static (double[][] Gradients, double[][] Losses) RandomSteps(int tasks, int length, int steps, int seed, bool unlabelled)
    {
        var random = new Random(seed);
        double F(double v) => (float)v;
        var g = new double[steps][];
        var l = new double[steps][];
        for (int s = 0; s < steps; s++)
        {
            g[s] = [.. Enumerable.Range(0, tasks * length).Select(k => F((1 + k / length) * (2 * random.NextDouble() - 1)))];
            l[s] = [.. Enumerable.Range(0, tasks).Select(i => F((0.5 + i) * Math.Exp(-0.05 * (i + 1) * s) * (1 + 0.1 * random.NextDouble())))];
        }
        if (unlabelled)
            foreach (var (s, i) in new[] { (0, 1), (4, 2) })
            {
                l[s][i] = 0;
                Array.Clear(g[s], i * length, length);
            }
        return (g, l);
    }

    /// <summary>The paper renormalises Σw = T after every step; the softmax form has it by construction. 300 steps of random
    /// data (40 on ILGPU's slow CPU accelerator) with the default α and learning rate and with a large SGD rate (weights
    /// clamped at 0), every device.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void The_weights_sum_to_the_task_count_after_every_step(string device, string weights, string optimizer)
    {
        const int tasks = 4;
        var (gradients, losses) = RandomSteps(tasks, 5, TestDevices.IsEmulated(device) ? 40 : 300, seed: 7, unlabelled: false);
        var run = RunOn(device, Settings(weights, optimizer, 1.5, optimizer == "sgd" ? 0.5 : 0.025), tasks, gradients, losses);
        double tolerance = device == "float64" ? 1e-12 : 1e-5;
        for (int s = 0; s < run.Length; s++)
        {
            Assert.True(Math.Abs(run[s].Next.Sum() - tasks) <= tolerance * tasks, $"step {s}: Σw = {run[s].Next.Sum():R}");
            Assert.All(run[s].Next, w => Assert.True(w >= 0, $"step {s}: a negative weight {w}"));
        }
        Assert.True(run[^1].Next.Max() - run[^1].Next.Min() > 0.1, "the weights moved apart");
    }

    /// <summary>Tasks with the same gradient and loss are indistinguishable: every weight stays 1, on every device, every
    /// parameterisation (50 steps; 20 on ILGPU's CPU accelerator). Without the tie rule this failed on ILGPU: its reductions of
    /// two equal rows differ in the last bits, and sign(Gᵢ − Ḡ) turned that into full-size opposite gradients (−14 % in 50 steps).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Identical_tasks_keep_equal_weights(string device, string weights, string optimizer)
    {
        const int tasks = 3, length = 5;
        var (one, oneLoss) = RandomSteps(1, length, TestDevices.IsEmulated(device) ? 20 : 50, seed: 3, unlabelled: false);
        var gradients = one.Select(r => Enumerable.Range(0, tasks).SelectMany(_ => r).ToArray()).ToArray();
        var losses = oneLoss.Select(l => Enumerable.Repeat(l[0], tasks).ToArray()).ToArray();
        var run = RunOn(device, Settings(weights, optimizer, 1.5, 0.1), tasks, gradients, losses);
        foreach (var next in run.Select(r => r.Next)) Tolerance.AllClose([1.0, 1.0, 1.0], next, 0, device == "float64" ? 1e-14 : 1e-6, "identical tasks");
    }

    /// <summary>α = 0 asks for equal weighted norms wᵢnᵢ = Ḡ. Fixed norms 1, 4, 2 and equal losses: the first update raises
    /// the weight of the task below Ḡ (norm 1), lowers the one above (norm 4), and leaves Σw = T; after 600 Adam steps of
    /// rate 0.005 the norms wᵢnᵢ agree within 5 % (they oscillate by about the step size) and w ≈ T(1/nᵢ)/Σ(1/nⱼ) (ILGPU's
    /// CPU accelerator: 60 steps, the ratio max/min from 4 to below 2.5).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Alpha_zero_drives_the_weighted_gradient_norms_to_equality(string device)
    {
        const int tasks = 3;
        bool slow = TestDevices.IsEmulated(device);
        int steps = slow ? 60 : 600;
        double[] norms = [1, 4, 2];
        double[] row = [.. norms.SelectMany(n => new[] { 0.6 * n, -0.8 * n })];   // rows of norm nᵢ
        var gradients = Enumerable.Repeat(row, steps).ToArray();
        var losses = Enumerable.Range(0, steps).Select(s => Enumerable.Repeat(1.0 / (1 + 0.01 * s), tasks).ToArray()).ToArray();
        var run = RunOn(device, Settings("paper", "adam", 0, 0.005), tasks, gradients, losses);
        Assert.True(run[0].Next[0] > 1 && run[0].Next[1] < 1, $"the first step moved the weights the wrong way: {string.Join(", ", run[0].Next)}");
        var g = run[^1].Next.Select((w, i) => w * norms[i]).ToArray();
        Assert.True(g.Max() / g.Min() < (slow ? 2.5 : 1.05), $"weighted norms {string.Join(", ", g)} after {steps} steps (4 at the start)");
        if (slow) return;
        double inverse = norms.Sum(n => 1 / n);
        Tolerance.AllClose([.. norms.Select(n => tasks / n / inverse)], run[^1].Next, 0.05, 0, "w ∝ 1/n");
    }

    /// <summary>A NaN loss or gradient leaves the whole state as it was (the step is skipped by the non-finite guard).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_non_finite_input_leaves_the_state_untouched(string device)
    {
        var backend = Float32(device);
        using var weighting = new GradNormWeighting<float>(backend, 2, Settings("paper", "adam", 1.5, 0.025));
        using var g = backend.Allocate<float>([1f, 0f, 0f, 3f]);
        using var l = backend.Allocate<float>([1f, 2f]);
        weighting.ObserveTaskGradients(g.View, 2, l.View);
        var before = backend.ToArray(weighting.StateBuffer);
        Assert.NotEqual(1f, before[0]);
        backend.Upload<float>([1f, float.NaN], l.View);
        weighting.ObserveTaskGradients(g.View, 2, l.View);
        Assert.Equal(before, backend.ToArray(weighting.StateBuffer));
        backend.Upload<float>([1f, 2f], l.View);
        backend.Upload<float>([float.PositiveInfinity, 0f, 0f, 3f], g.View);
        weighting.ObserveTaskGradients(g.View, 2, l.View);
        Assert.Equal(before, backend.ToArray(weighting.StateBuffer));
    }

    /// <summary>In the training step: each step trains with the state's weights, then updates them from its own UNWEIGHTED
    /// task gradients of the shared parameters and its losses (the reference's one step from the state before, 1e-5);
    /// <c>gradnorm</c> and <c>gradnorm+pcgrad</c> lower the loss with 0 bytes allocated per warm step, Σw = T.</summary>
    [Theory]
    [InlineData("gradnorm", "paper")]
    [InlineData("gradnorm+pcgrad", "softmax")]
    public void Trains_through_the_registry_updating_from_the_steps_own_gradients(string method, string weights)
    {
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["alpha"] = "0.5", ["weights"] = weights }, step =>
        {
            var cpu = (CpuBackend<float>)step.Model.Backend;
            var gradnorm = Assert.IsType<GradNormWeighting<float>>(step.Weighting);
            Assert.True(step.UsesTaskGradients);
            int tasks = gradnorm.Tasks;
            var before = Array.ConvertAll(cpu.ToArray(gradnorm.StateBuffer), v => (double)v);
            using var device = DeviceDataset.Upload(step.Model, Problems.Data(64, seed: 1));
            step.Run(device, 0, 16);
            Assert.Equal(before.Take(tasks).Select(v => (float)v), cpu.ToArray(step.Weighting.Weights));   // this step's weights
            var reference = new Reference(tasks, 0.5, 0.025, adam: true, softmax: weights == "softmax")
            {
                W = before[..tasks], Theta = before[tasks..(2 * tasks)], M = before[(2 * tasks)..(3 * tasks)],
                V = before[(3 * tasks)..(4 * tasks)], L0 = before[(4 * tasks)..(5 * tasks)], N = (int)before[5 * tasks],
            };
            reference.Step(Array.ConvertAll(cpu.ToArray(step.TaskGradients), v => (double)v), Array.ConvertAll(cpu.ToArray(step.TaskLosses), v => (double)v));
            var after = Array.ConvertAll(cpu.ToArray(gradnorm.StateBuffer), v => (double)v);
            Tolerance.AllClose(reference.W, after[..tasks], 0, 1e-5, "the step's update");
            Assert.Equal(tasks, after[..tasks].Sum(), 1e-5);
            Assert.True(after[..tasks].Any(w => Math.Abs(w - 1) > 1e-3), "the weights moved");
        });
    }

    [Fact]
    public void The_registry_lists_gradnorm_with_its_options_and_refuses_bad_values()
    {
        var m = MethodRegistry.Get("gradnorm");
        Assert.Equal(MethodKind.LossWeighting, m.Kind);
        Assert.Equal(MethodNeeds.Losses | MethodNeeds.SharedGradients, m.Needs);
        Assert.Equal("1.5", m.Option("alpha")!.Default);
        Assert.Equal(["adam", "sgd"], m.Option("optimizer")!.Choices);
        Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("gradnorm", new Dictionary<string, string> { ["alpha"] = "-1" }, ["a", "b"]));
        Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("gradnorm", new Dictionary<string, string> { ["lr"] = "0" }, ["a", "b"]));
        var backend = TestDevices.Reference;
        using var w = new GradNormWeighting<double>(backend, 2, Settings("paper", "adam", 1.5, 0.025));
        using var g = backend.Allocate<double>(6);
        using var l = backend.Allocate<double>(3);
        Assert.Throws<ArgumentException>(() => w.ObserveTaskGradients(g.View, 3, l.View));
    }
}
