using System.Numerics;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>excess-mtl</c> (He et al., ICML 2024; LibMTL <c>ExcessMTL</c>): rᵢ = Σₚ gᵢₚ²/√(Sᵢₚ + 1e-7) with S the accumulated
/// squares, the first step's r kept as the scales r⁰, then wᵢ ← wᵢ·exp(η rᵢ/r⁰ᵢ), Σw = T. Against LibMTL's backward run
/// in PyTorch 1.13 (Tests/Fixtures/make_excess_mtl_libmtl.py, numbers pasted below), a float64 reference written here in
/// LibMTL's direct form (not the solver's log-space form), on every device; the properties (positive weights with Σw = T,
/// the task whose excess risk falls more slowly gains weight, invariance to a task's gradient scale, a NaN keeps the
/// weights); and the step's wiring (this step's weights from its own gradients, the registry, the CLI).
/// </summary>
public sealed class ExcessMtlTests
{
    /// <summary>LibMTL's ExcessMTL in float64, plain loops, its own order of operations.</summary>
    private sealed class Reference(int tasks, int length, double eta)
    {
        public double[] W = Enumerable.Repeat(1.0, tasks).ToArray(), Initial = new double[tasks], S = new double[tasks * length];
        public double[] Risks = new double[tasks];
        /// <summary>True until the first step (LibMTL's <c>first_epoch</c>).</summary>
        public bool First = true;

        public void Step(double[] g)
        {
            for (int i = 0; i < tasks; i++)
            {
                double r = 0;
                for (int p = 0; p < length; p++)
                {
                    int k = i * length + p;
                    S[k] += g[k] * g[k];
                    r += g[k] * g[k] / Math.Sqrt(S[k] + 1e-7);
                }
                Risks[i] = r;
            }
            if (First)
            {
                Initial = (double[])Risks.Clone();
                First = false;
                return;
            }
            for (int i = 0; i < tasks; i++) W[i] *= Math.Exp(eta * Risks[i] / Initial[i]);
            double sum = W.Sum();
            for (int i = 0; i < tasks; i++) W[i] = W[i] / sum * tasks;
        }
    }

    /// <summary>What the weighting leaves after each step: the weights the step trains with, the risks, S.</summary>
    private sealed record StepResult(double[] Weights, double[] Risks, double[] SquaredSums);

    private static StepResult[] Run<T>(Backend<T> backend, int tasks, double eta, double[][] gradients) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = gradients[0].Length / tasks;
        using var weighting = new ExcessMtlWeighting<T>(backend, tasks, length, eta);
        using var g = backend.Allocate<T>(tasks * length);
        using var l = backend.Allocate<T>(tasks);
        double[] Read(View<T> v) => Array.ConvertAll(backend.ToArray(v), double.CreateTruncating);
        var result = new StepResult[gradients.Length];
        for (int s = 0; s < gradients.Length; s++)
        {
            backend.Upload<T>(Array.ConvertAll(gradients[s], T.CreateTruncating), g.View);
            weighting.Update(l.View);
            weighting.ObserveTaskGradients(g.View, length, l.View);
            result[s] = new StepResult(Read(weighting.Weights), Read(weighting.Risks), Read(weighting.SquaredSums));
        }
        return result;
    }

    public static TheoryData<string> AllDevices()
    {
        var data = new TheoryData<string> { "float64" };
        foreach (var d in TestDevices.Float32) data.Add(d.Data);
        return data;
    }

    private static StepResult[] RunOn(string device, int tasks, double eta, double[][] g) =>
        device == "float64" ? Run(TestDevices.Reference, tasks, eta, g) : Run(TestDevices.Get(device), tasks, eta, g);

    /// <summary>Random float32-representable gradients [T × P] per step, row i scaled by <paramref name="scales"/>[i] and
    /// by a per-step decay <paramref name="decay"/>[i]^s.</summary>
    private static double[][] RandomSteps(int tasks, int length, int steps, int seed, double[]? scales = null, double[]? decay = null)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, steps).Select(s => Enumerable.Range(0, tasks * length).Select(k =>
        {
            int i = k / length;
            return (double)(float)((scales?[i] ?? 1) * Math.Pow(decay?[i] ?? 1, s) * (2 * random.NextDouble() - 1));
        }).ToArray())];
    }

    // LibMTL's ExcessMTL.backward in PyTorch 1.13 (Tests/Fixtures/make_excess_mtl_libmtl.py), T = 3, P = 5, five steps.
    private static readonly double[][][] FixtureGradients =
    [
        [[0.3894, 0.8912, 0.9738, 0.5985, -0.0584], [5.9847, -0.5837, -6.8777, -9.9369, -8.3227], [-0.9937, -0.8323, -0.2794, 0.4048, 0.8987]],
        [[0.9917, 0.6755, 0.0416, -0.6119, -0.9775], [-6.1186, -9.7753, -8.8345, -3.7388, 3.1154], [-0.2243, 0.1869, 0.5103, 0.5936, 0.3978]],
        [[0.1411, -0.5298, -0.9516, -0.9258, -0.4646], [-9.2581, -4.646, 2.1512, 7.9367, 9.9894], [0.2857, 0.3596, 0.2644, 0.0448, -0.1958]],
        [[-0.9162, -0.9589, -0.5507, 0.1165, 0.729], [1.1655, 7.2897, 9.9854, 7.9849, 2.2289], [0.1725, 0.0481, -0.0988, -0.1993, -0.2061]],
        [[-0.6313, 0.0168, 0.657, 0.9882, 0.8546], [9.8817, 8.546, 3.191, -3.6648, -8.797], [-0.0475, -0.114, -0.1269, -0.0801, 0.0044]],
    ];

    // float64 run: per step the risks w (before the division by initial_w), then the loss weights, for η = 0.01 and 0.5.
    private static readonly double[][] FixtureRisks64 =
    [
        [2.9112988244603, 31.705699887675646, 3.408899531500146],
        [2.746105454539293, 23.511887550175558, 1.189371677975277],
        [1.789064646625475, 21.41105119866853, 0.36727496032228657],
        [1.8057216892282815, 15.241181667271947, 0.14004437526694113],
        [1.601872031354161, 17.04953146716619, 0.049014615443942464],
    ];
    private static readonly double[][] FixtureWeights64Eta001 =
    [
        [1.0, 1.0, 1.0],
        [1.0026539618690662, 1.0006337344456935, 0.9967123036852403],
        [1.0041367441765428, 1.0027228138238677, 0.9931404419995893],
        [1.0065301028166067, 1.0037112646973532, 0.9897586324860401],
        [1.0083500714130844, 1.0054006295537137, 0.9862492990332017],
    ];
    private static readonly double[][] FixtureWeights64Eta05 =
    [
        [1.0, 1.0, 1.0],
        [1.1333652058019983, 1.024644409477863, 0.8419903847201385],
        [1.1958905832934534, 1.1145338894638228, 0.6895755272427238],
        [1.3038895625770313, 1.1332932932401831, 0.5628171441827859],
        [1.3673970569602498, 1.1810971272437938, 0.45150581579595617],
    ];
    // float32 run (LibMTL's dtype), η = 0.5.
    private static readonly double[][] FixtureWeights32Eta05 =
    [
        [1.0, 1.0, 1.0],
        [1.133365273475647, 1.0246444940567017, 0.8419903516769409],
        [1.1958906650543213, 1.1145339012145996, 0.6895754933357239],
        [1.303889513015747, 1.1332931518554688, 0.5628170967102051],
        [1.3673970699310303, 1.1810970306396484, 0.4515058398246765],
    ];

    /// <summary>LibMTL's ExcessMTL in PyTorch 1.13, five steps, T = 3 (task 1 at ten times task 0's gradient scale, task 2's
    /// shrinking by 0.6 a step), η = 0.01 (LibMTL's default) and 0.5: the risks and the weights each step trains with.
    /// float64 backend within 1e-12 of torch's float64 run; the float32 devices within 2e-6 (relative) of it, and of
    /// torch's own float32 run (which differs from its float64 one by about 1e-7).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Matches_LibMTL_ExcessMTL_in_PyTorch(string device)
    {
        var gradients = FixtureGradients.Select(s => s.SelectMany(r => r).ToArray()).ToArray();
        double tolerance = device == "float64" ? 1e-12 : 2e-6;
        foreach (var (eta, weights) in new[] { (0.01, FixtureWeights64Eta001), (0.5, FixtureWeights64Eta05) })
        {
            var run = RunOn(device, 3, eta, gradients);
            for (int s = 0; s < gradients.Length; s++)
            {
                Tolerance.AllClose(FixtureRisks64[s], run[s].Risks, tolerance, 0, $"η = {eta}: risks of step {s}");
                Tolerance.AllClose(weights[s], run[s].Weights, tolerance, 0, $"η = {eta}: weights of step {s}");
                if (eta == 0.5 && device != "float64")
                    Tolerance.AllClose(FixtureWeights32Eta05[s], run[s].Weights, tolerance, 0, $"η = {eta}: torch float32 weights of step {s}");
            }
        }
        // The reference written here agrees with torch too (it is what the other tests compare with).
        var reference = new Reference(3, 5, 0.5);
        for (int s = 0; s < gradients.Length; s++)
        {
            reference.Step(gradients[s]);
            Tolerance.AllClose(FixtureWeights64Eta05[s], reference.W, 1e-13, 0, $"the reference's weights of step {s}");
        }
    }

    /// <summary>Random data, T = 2..5, P = 5000 (two ILGPU tiles per row, a SIMD tail), 6 steps, η = 0.5, task scales 1, 3,
    /// 0.2, … and different decays: risks, S and weights of every step within 1e-12 (float64 backend) or 2e-5 relative
    /// (float32: S summed over 6 steps, rᵢ over 5000 terms) of the float64 reference; the weights moved.</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Carried_steps_match_the_float64_reference(string device)
    {
        const int length = 5000, steps = 6;
        for (int tasks = 2; tasks <= 5; tasks++)
        {
            double[] scales = [.. Enumerable.Range(0, tasks).Select(i => new[] { 1, 3, 0.2, 7, 0.5 }[i])];
            double[] decay = [.. Enumerable.Range(0, tasks).Select(i => 1 - 0.15 * i)];
            var gradients = RandomSteps(tasks, length, steps, seed: 10 + tasks, scales, decay);
            var reference = new Reference(tasks, length, 0.5);
            var run = RunOn(device, tasks, 0.5, gradients);
            double tolerance = device == "float64" ? 1e-12 : 2e-5;
            for (int s = 0; s < steps; s++)
            {
                reference.Step(gradients[s]);
                Tolerance.AllClose(reference.Risks, run[s].Risks, tolerance, 0, $"T = {tasks}, step {s}: risks");
                Tolerance.AllClose(reference.S, run[s].SquaredSums, tolerance, 0, $"T = {tasks}, step {s}: S");
                Tolerance.AllClose(reference.W, run[s].Weights, tolerance, 0, $"T = {tasks}, step {s}: weights");
            }
            Assert.True(run[^1].Weights.Max() - run[^1].Weights.Min() > 0.05, $"T = {tasks}: the weights moved ({string.Join(", ", run[^1].Weights)})");
        }
    }

    /// <summary>The risk pass against its readable float64 reference (<see cref="ExcessMtlReference.Risks"/>) on every
    /// float32 device, P = 1, 7, 4097 (a tile and one element), two calls (S carried): within 1e-5 relative.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_risk_pass_matches_its_reference(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int length in new[] { 1, 7, 4097 })
        {
            const int tasks = 3;
            var steps = RandomSteps(tasks, length, 2, seed: length);
            var s = new double[tasks * length];
            using var g = backend.Allocate<float>(tasks * length);
            using var sums = backend.Allocate<float>(tasks * length);
            using var risks = backend.Allocate<float>(tasks);
            backend.Fill(sums.View, 0f);
            foreach (var step in steps)
            {
                var expected = ExcessMtlReference.Risks(step, tasks, s);
                backend.Upload<float>(Array.ConvertAll(step, v => (float)v), g.View);
                backend.ExcessRisks(g.View, tasks, sums.View, risks.View);
                Tolerance.AllClose(expected, backend.ToArray(risks.View), 1e-5, 0, $"P = {length}: risks");
                Tolerance.AllClose(s, backend.ToArray(sums.View), 1e-6, 0, $"P = {length}: S");
            }
        }
    }

    /// <summary>Weights stay positive and sum to T (LibMTL's normalisation) over 200 steps of random data (30 on ILGPU's CPU
    /// accelerator) with a large step size η = 2; at the end they are ordered by how slowly the tasks' gradients shrink
    /// (by 1, 0.99, 0.9 a step: the steady task stays far from convergence by this estimate).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void Weights_stay_positive_and_sum_to_T(string device)
    {
        const int tasks = 3;
        int steps = TestDevices.IsEmulated(device) ? 30 : 200;
        var gradients = RandomSteps(tasks, 40, steps, seed: 5, scales: [1, 1, 1], decay: [1, 0.99, 0.9]);
        var run = RunOn(device, tasks, 2, gradients);
        double tolerance = device == "float64" ? 1e-12 : 1e-5;
        for (int s = 0; s < steps; s++)
        {
            Assert.True(Math.Abs(run[s].Weights.Sum() - tasks) <= tolerance * tasks, $"step {s}: Σw = {run[s].Weights.Sum():R}");
            Assert.All(run[s].Weights, w => Assert.True(w > 0, $"step {s}: weight {w} not positive"));
        }
        Assert.True(run[^1].Weights[0] > run[^1].Weights[1] && run[^1].Weights[1] > run[^1].Weights[2],
            $"weights {string.Join(", ", run[^1].Weights)}: not ordered by how slowly the tasks' gradients shrink");
    }

    /// <summary>The exponentiated-gradient step moves weight to the task with the larger excess risk: two tasks with the
    /// same first gradient (equal scales r⁰), then task 0's gradient twice task 1's: w₀ &gt; 1 &gt; w₁, w₀ + w₁ = 2, and
    /// w₀/w₁ = exp(η(r₀ − r₁)/r⁰) exactly as the reference says (1e-6).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void The_task_with_the_larger_excess_risk_gains_weight(string device)
    {
        double[] first = [0.5, -1, 0.25, 0.5, -1, 0.25], second = [1, 0.5, -0.5, 0.5, 0.25, -0.25];
        var run = RunOn(device, 2, 0.5, [first, second]);
        Assert.Equal([1.0, 1.0], run[0].Weights);
        var w = run[1].Weights;
        Assert.True(w[0] > 1 && w[1] < 1, $"weights {w[0]}, {w[1]}");
        Assert.Equal(2, w.Sum(), 1e-6);
        Assert.True(run[1].Risks[0] > run[1].Risks[1]);
        var reference = new Reference(2, 3, 0.5);
        reference.Step(first);
        reference.Step(second);
        Tolerance.AllClose(reference.W, w, 1e-6, 0, "weights");
    }

    /// <summary>The scale normalisation r/r⁰: multiplying every gradient of a task by 1000 (or 10) leaves the weights as they
    /// were within 1e-5 (the risks scale by the factor; ε = 1e-7 under the root is the only difference, and it shrinks
    /// relative to S as the scale grows: scaling down to 1e-3 puts g² near ε and changes the weights by 1 %).</summary>
    [Theory]
    [MemberData(nameof(AllDevices))]
    public void A_tasks_gradient_scale_does_not_change_the_weights(string device)
    {
        const int tasks = 3, length = 20;
        var gradients = RandomSteps(tasks, length, 8, seed: 9, decay: [1, 0.9, 0.95]);
        var scaled = gradients.Select(g => g.Select((v, k) => (double)(float)(v * (k / length == 1 ? 1000 : k / length == 2 ? 10 : 1))).ToArray()).ToArray();
        var a = RunOn(device, tasks, 0.5, gradients);
        var b = RunOn(device, tasks, 0.5, scaled);
        for (int s = 0; s < a.Length; s++) Tolerance.AllClose(a[s].Weights, b[s].Weights, 1e-5, 0, $"step {s}");
        Assert.True(Math.Abs(a[^1].Weights[1] - 1) > 1e-2, "the weights moved");
    }

    /// <summary>A task with no gradient at the first step (no label in that batch: LibMTL would divide by its zero r⁰) takes
    /// its first nonzero risk as r⁰ and the weights stay finite; a NaN or +∞ gradient keeps the weights and the state (S of
    /// the finite elements moves on, the bad element's stays).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Zero_and_non_finite_gradients_keep_the_weights_finite(string device)
    {
        var backend = TestDevices.Get(device);
        using var w = new ExcessMtlWeighting<float>(backend, 2, 2, 0.5);
        using var g = backend.Allocate<float>([1f, 2f, 0f, 0f]);
        using var l = backend.Allocate<float>(2);
        w.Update(l.View);
        w.ObserveTaskGradients(g.View, 2, l.View);
        Assert.Equal([1f, 1f], backend.ToArray(w.Weights));                               // the first step keeps w = 1
        var initial = backend.ToArray(w.StateBuffers[1].Values);
        Assert.True(initial[0] > 0 && initial[1] == 0, $"scales {initial[0]}, {initial[1]}: task 1 had no gradient");
        Assert.Equal([1f], backend.ToArray(w.StateBuffers[2].Values));
        backend.Upload<float>([1f, 2f, 3f, 4f], g.View);
        w.Update(l.View);
        w.ObserveTaskGradients(g.View, 2, l.View);
        var moved = backend.ToArray(w.Weights);
        Assert.All(moved, v => Assert.True(float.IsFinite(v) && v > 0));
        Assert.Equal(2f, moved.Sum(), 1e-6);
        Assert.True(backend.ToArray(w.StateBuffers[1].Values)[1] > 0, "task 1 took its first nonzero risk as its scale");

        var state = backend.ToArray(w.StateBuffers[0].Values).Concat(backend.ToArray(w.StateBuffers[1].Values)).ToArray();
        var s = backend.ToArray(w.SquaredSums);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity })
        {
            backend.Upload<float>([1f, bad, 3f, 4f], g.View);
            w.Update(l.View);
            w.ObserveTaskGradients(g.View, 2, l.View);
            Assert.Equal(moved, backend.ToArray(w.Weights));
            Assert.Equal(state, backend.ToArray(w.StateBuffers[0].Values).Concat(backend.ToArray(w.StateBuffers[1].Values)).ToArray());
            var after = backend.ToArray(w.SquaredSums);
            Assert.Equal(s[1], after[1]);
            Assert.All(after, v => Assert.True(float.IsFinite(v)));
            s = after;
        }
    }

    /// <summary>In the training step each step trains with the weights updated from its OWN unweighted task gradients
    /// (LibMTL's order): after a step the weights equal one solver update of the state before with the step's
    /// <see cref="TrainingStep.TaskGradients"/> (float64 reference, 1e-5); <c>excess-mtl</c> and <c>excess-mtl+pcgrad</c>
    /// lower the loss with 0 bytes allocated per warm step; the option reaches the weighting.</summary>
    [Theory]
    [InlineData("excess-mtl")]
    [InlineData("excess-mtl+pcgrad")]
    public void Trains_through_the_registry_with_weights_from_the_steps_own_gradients(string method)
    {
        MethodTraining.TrainsThroughTheRegistry(method, new() { ["robust-step-size"] = "0.5" }, step =>
        {
            var cpu = (CpuBackend<float>)step.Model.Backend;
            var excess = Assert.IsType<ExcessMtlWeighting<float>>(step.Weighting);
            Assert.Equal(0.5, excess.StepSize);
            Assert.True(step.UsesTaskGradients);
            int tasks = excess.Tasks, length = excess.SharedLength;
            double[] Read(View<float> v) => Array.ConvertAll(cpu.ToArray(v), x => (double)x);
            var reference = new Reference(tasks, length, 0.5)
            {
                W = Read(excess.StateBuffers[0].Values), Initial = Read(excess.StateBuffers[1].Values), S = Read(excess.SquaredSums),
                First = false,
            };
            Assert.Equal(204, Read(excess.StateBuffers[2].Values)[0]);   // 4 + 200 updates so far
            using var device = DeviceDataset.Upload(step.Model, Problems.Data(64, seed: 1));
            step.Run(device, 0, 16);
            reference.Step(Read(step.TaskGradients));
            Tolerance.AllClose(reference.W, Read(step.Weighting.Weights), 1e-5, 0, "this step's weights");
            Assert.Equal(tasks, Read(step.Weighting.Weights).Sum(), 1e-5);
            Assert.True(Read(step.Weighting.Weights).Any(w => Math.Abs(w - 1) > 1e-3), "the weights moved");
        });
    }

    [Fact]
    public void The_registry_lists_excess_mtl_with_its_option_and_refuses_bad_values()
    {
        var m = MethodRegistry.Get("excess-mtl");
        Assert.Equal(MethodKind.LossWeighting, m.Kind);
        Assert.Equal(MethodNeeds.SharedGradients, m.Needs);
        Assert.Equal("0.01", m.Option("robust-step-size")!.Default);
        Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("excess-mtl", new Dictionary<string, string> { ["robust-step-size"] = "0" }, ["a", "b"]));
        var backend = TestDevices.Reference;
        using var w = new ExcessMtlWeighting<double>(backend, 2, 3);
        using var g = backend.Allocate<double>(4);
        using var l = backend.Allocate<double>(2);
        Assert.Throws<ArgumentException>(() => w.ObserveTaskGradients(g.View, 2, l.View));
    }

    /// <summary><c>mtl train --method excess-mtl --method-option robust-step-size=0.1</c> trains (exit 0); a step size of 0
    /// is a usage error naming it.</summary>
    [Fact]
    public void Mtl_train_takes_excess_mtl_and_its_option()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"excess-mtl-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Cli.Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Cli.Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "3" : f)];
            var ok = Cli.Mtl.Run([.. flags, "--method", "excess-mtl", "--method-option", "robust-step-size=0.1"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Cli.Mtl.AssertFails(Cli.Mtl.Run([.. flags, "--method", "excess-mtl", "--method-option", "robust-step-size=0"]), 2, "option 'robust-step-size': '0'");
        }
        finally { File.Delete(csv); }
    }
}
