using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The mixture-of-experts ops against central differences in float64 (<see cref="GradCheck"/>, torch's tolerances
/// |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|, h = 1e-6), on the engine's float64 CPU path and on naive loops; and the
/// MMoE / OMoE / CGC / PLE (2 and 3 levels) / cross-stitch / DSelect-k (with its entropy term) shared parts: the stacked per-task pass (<see cref="Tape{T}.BackwardPerTask"/>) equals one routed backward
/// per task (float64, rtol 1e-12), and the whole part passes a gradient check.
/// </summary>
public class MixtureOpTests
{
    private static void AssertPasses(GradCheckResult result, int expectedElements)
    {
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(expectedElements, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Batched_linear_over_a_shared_input_and_over_expert_blocks(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        foreach (var activation in new[] { Activation.Identity, Activation.Tanh, Activation.Relu })
        {
            using var leaves = new Leaves<double>(backend);
            var shared = leaves.Random("x", 5, 4, seed: 1, gap: 0.05);       // batch 5, read by 3 experts
            var w1 = leaves.Random("w1", 3 * 6, 4, seed: 2, gap: 0.05);     // [E·out × in] = [3·6 × 4]
            var b1 = leaves.Random("b1", 3, 6, seed: 3, gap: 0.05);
            AssertPasses(GradCheck.Run(backend, tape => tape.BatchedLinear(shared, w1, b1, 3, 5, activation), [shared, w1, b1]), 20 + 72 + 18);

            var blocks = leaves.Random("xe", 3 * 5, 4, seed: 4, gap: 0.05);  // expert-major [E·batch × in]
            var w2 = leaves.Random("w2", 3 * 2, 4, seed: 5, gap: 0.05);
            AssertPasses(GradCheck.Run(backend, tape => tape.BatchedLinear(blocks, w2, null, 3, 5, activation), [blocks, w2]), 60 + 24);
        }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Softmax_over_experts_and_the_gated_mixture(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var logits = leaves.Random("logits", 5, 3, seed: 6);
        AssertPasses(GradCheck.Run(backend, tape => tape.Softmax(logits), [logits]), 15);

        var experts = leaves.Random("experts", 3 * 5, 4, seed: 7);
        var gates = leaves.Random("gates", 5, 3, seed: 8);
        AssertPasses(GradCheck.Run(backend, tape => tape.Mixture(experts, gates), [experts, gates]), 60 + 15);
        // Composed as a model does: a mixture of batched experts under a softmax gate.
        var x = leaves.Random("x", 5, 4, seed: 9);
        var w = leaves.Random("w", 3 * 4, 4, seed: 10);
        var wg = leaves.Random("wg", 3, 4, seed: 11);
        AssertPasses(GradCheck.Run(backend, tape => tape.Mixture(tape.BatchedLinear(x, w, null, 3, 5, Activation.Tanh),
            tape.Softmax(tape.Linear(x, wg))), [x, w, wg]), 20 + 48 + 12);
    }

    /// <summary>A float64 MoE shared part with three tasks (dense output layers, MSE losses) on its own flat buffer.</summary>
    internal sealed class MoeNet : IDisposable
    {
        public const int Batch = 5, Tasks = 3;
        public readonly Backend<double> Backend;
        public readonly FlatParameters<double> Parameters;
        public readonly SharedPart<double> Part;
        /// <summary>With <c>embed</c>: two embedded index columns after the 4 numeric ones (tables [5 × 3] and [3 × 2], the
        /// shared block's head), and the block the per-task pass routes (the tables, then the part's shared parameters).</summary>
        public readonly InputEmbedding<double>? Embedding;
        public readonly ParameterGroup<double> Shared;
        public readonly Dense<double>[] Heads = new Dense<double>[Tasks];
        /// <summary>Index of task t's first slot (its block runs to the next task's).</summary>
        public readonly int[] TaskSlots = new int[Tasks];
        private readonly Leaves<double> _leaves;
        private readonly Tensor<double> _x;
        private readonly Tensor<double>[] _targets = new Tensor<double>[Tasks];

        public MoeNet(Backend<double> backend, Architecture architecture, double dropout = 0, bool layerNorm = false, bool embed = false)
        {
            Backend = backend;
            EmbeddingSpec[]? embeddings = embed ? [new("c0", 4, 3), new("c1", 2, 2)] : null;
            var spec = new ModelSpec(4 + (embed ? 2 : 0), [6, 3], [TaskHead.Regression("a"), TaskHead.Regression("b", 2), TaskHead.Regression("c")])
            { Architecture = architecture, TrunkActivation = Activation.Tanh, Dropout = dropout, LayerNorm = layerNorm, Embeddings = embeddings };
            Parameters = new FlatParameters<double>(backend);
            if (embeddings is not null) Embedding = new InputEmbedding<double>(Parameters, "embeddings", 4, [.. embeddings.Select(e => (e.TableRows, e.Dim))]);
            Part = architecture.Build(spec, Parameters);
            for (int t = 0; t < Tasks; t++)
            {
                TaskSlots[t] = Parameters.Slots.Count;
                Part.RegisterTask(Parameters, t, spec.Heads[t]);
                Heads[t] = new Dense<double>(Parameters, "heads." + spec.Heads[t].Name, 3, spec.Heads[t].Outputs);
            }
            Parameters.Allocate();
            Shared = Embedding is null ? Part.SharedParameters : new ParameterGroup<double>([.. Embedding.Tables, .. Part.SharedParameters.Parameters]);
            Embedding?.Initialize(Initializer.PyTorchDefault, 5);
            Part.Initialize(Initializer.PyTorchDefault, 3);
            for (int t = 0; t < Tasks; t++) Heads[t].Initialize(Initializer.XavierUniform, 40 + (ulong)t);
            _leaves = new Leaves<double>(backend);
            if (embed)
            {
                double[] indices = [0, 4, 1, 3, 3, /* c1: */ 2, 0, 1, 0, 2];           // 4 and 2: the reserved rows
                var x = Tolerance.Random(Batch * 6, seed: 21);
                for (int r = 0; r < Batch; r++) (x[r * 6 + 4], x[r * 6 + 5]) = (indices[r], indices[Batch + r]);
                _x = _leaves.Make("x", Batch, 6, x, requiresGrad: false);
            }
            else _x = _leaves.Random("x", Batch, 4, seed: 21, requiresGrad: false);
            for (int t = 0; t < Tasks; t++) _targets[t] = _leaves.Random("y", Batch, spec.Heads[t].Outputs, seed: 22 + t, requiresGrad: false);
        }

        /// <summary>The losses and boundary tensors; <paramref name="features"/>, when given, receives each task's features.</summary>
        public (Tensor<double>[] Losses, Tensor<double>[] Boundary) Forward(Tape<double> tape, Tensor<double>[]? features = null)
        {
            features ??= new Tensor<double>[Tasks];
            var boundary = new Tensor<double>[Part.BoundaryCount + (Embedding is null ? 0 : 1)];
            var x = Embedding is null ? _x : boundary[^1] = Embedding.Forward(tape, _x);
            Part.Forward(tape, x, features, boundary.AsSpan(0, Part.BoundaryCount));
            var losses = new Tensor<double>[Tasks];
            for (int t = 0; t < Tasks; t++)
            {
                losses[t] = tape.Mse(Heads[t].Forward(tape, features[t]), _targets[t]);
                if (Part.Regularizer(t) is { } regularizer) losses[t] = tape.Add(losses[t], regularizer);   // DSelect-k's entropy
            }
            return (losses, boundary);
        }

        public IReadOnlyList<Tensor<double>> AllParameters => [.. Parameters.Slots.Select(s => Tensor<double>.Parameter(Parameters, s))];

        public void Dispose()
        {
            _leaves.Dispose();
            Parameters.Dispose();
        }
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var b in Float64Backends.All) foreach (var a in new[] { "mmoe", "omoe", "cgc", "ple2", "ple3", "cross-stitch", "dselect-k" }) data.Add(b, a);
        return data;
    }

    private static Architecture Make(string name) => name switch
    {
        "mmoe" => new MmoeArchitecture(3),
        "omoe" => new OmoeArchitecture(3),
        "cgc" => new CgcArchitecture(2, 1),
        "ple2" => new PleArchitecture(2, 1, 2),
        "cross-stitch" => new CrossStitchArchitecture(0.8),
        "dselect-k" => new DSelectKArchitecture(4, 2, 1.0, 0.1),
        _ => new PleArchitecture(1, 2, 3),
    };

    /// <summary>The stacked per-task pass over <paramref name="net"/> equals one routed backward per task (float64, rtol
    /// 1e-12), every task reaching the shared block; <paramref name="prepare"/> sets the tape up before each forward (e.g.
    /// training mode for dropout). Returns the shared block's length.</summary>
    internal static int AssertStackedEqualsRouted(Backend<double> backend, MoeNet net, string architecture, Action<Tape<double>>? prepare = null)
    {
        var group = net.Shared;
        int shared = group.Length, tasks = MoeNet.Tasks;
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(tasks * shared);

        prepare?.Invoke(tape);
        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(rows.View, 0);
        var (losses, _) = net.Forward(tape);
        for (int t = 0; t < tasks; t++) tape.Backward(losses[t], group, rows.View.Slice(t * shared, shared));
        var expectedRows = backend.ToArray(rows.View);
        var expectedFlat = backend.ToArray(net.Parameters.Gradients);

        tape.Reset();
        prepare?.Invoke(tape);
        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(rows.View, double.NaN);                   // overwritten
        var (losses2, boundary) = net.Forward(tape);
        tape.BackwardPerTaskThrough(losses2, boundary, group, rows.View);
        var actualRows = backend.ToArray(rows.View);
        Tolerance.AllClose(expectedRows, actualRows, 1e-12, 1e-14, $"{architecture} per-task shared rows");
        Tolerance.AllClose(expectedFlat, backend.ToArray(net.Parameters.Gradients), 1e-12, 1e-14, $"{architecture} task-owned gradients");
        for (int t = 0; t < tasks; t++) Assert.Contains(actualRows.AsSpan(t * shared, shared).ToArray(), g => g != 0);
        Assert.Contains(expectedFlat[shared..], g => g != 0);
        return shared;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stacked_per_task_pass_through_the_experts_equals_one_routed_backward_per_task(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MoeNet(backend, Make(architecture));
        int shared = AssertStackedEqualsRouted(backend, net, architecture);
        // The shared block is what it should be: the experts, plus the one gate for OMoE.
        int experts = 3 * (6 * 4 + 6) + 3 * (3 * 6 + 3);
        if (architecture is "mmoe" or "omoe") Assert.Equal(architecture == "mmoe" ? experts : experts + 3 * 4, shared);
        if (architecture == "cgc") Assert.Equal(2 * (6 * 4 + 6) + 2 * (3 * 6 + 3), shared);   // the shared experts only
        if (architecture == "cross-stitch") Assert.Equal(experts + 3 * 3, shared);
        if (architecture == "dselect-k") Assert.Equal(4 * (6 * 4 + 6) + 4 * (3 * 6 + 3), shared);              // the 4 experts only               // 3 columns and the unit after layer 0
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_whole_shared_part_passes_a_gradient_check(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MoeNet(backend, Make(architecture));
        var parameters = net.AllParameters;
        var result = GradCheck.Run(backend, tape =>
        {
            var (losses, _) = net.Forward(tape);
            return tape.Add(tape.Add(losses[0], losses[1]), losses[2]);
        }, parameters);
        AssertPasses(result, net.Parameters.Count);
    }

    /// <summary>
    /// A task's DSelect-k gate in the shared block, as a product's factor's is (docs/maths.md §17.6): the group is the experts plus
    /// task 0's gate, task 0's features a boundary, and every task's loss also reads them (Lₜ + MSE(h₀, yₜ) for t = 1, 2), so all
    /// three rows run through the gate's stacked smooth-step, selectors, softmax and mixture backward
    /// (<c>Ops.SmoothStepBackwardStacked</c>, <c>Ops.SelectorsBackwardStacked</c>). The rows and the task-owned gradients equal
    /// one routed backward per task (float64, rtol 1e-12; the plain ops' backward is checked against central differences above),
    /// and every row reaches the gate's code and weight layers.
    /// </summary>
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void A_dselect_gate_in_the_shared_block_runs_stacked_as_one_routed_backward_per_task(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MoeNet(backend, new DSelectKArchitecture(4, 2, 1.0, 0));
        var gate = net.Part.TaskTensors(0).OrderBy(p => p.Slot!.Offset).ToArray();
        var group = new ParameterGroup<double>([.. net.Part.SharedParameters.Parameters, .. gate]);
        int shared = group.Length, tasks = MoeNet.Tasks;
        Assert.Equal(net.Part.SharedParameters.Length + gate.Sum(p => p.Length), shared);
        using var leaves = new Leaves<double>(backend);
        var targets = new[] { leaves.Random("y1", MoeNet.Batch, 3, seed: 31, requiresGrad: false), leaves.Random("y2", MoeNet.Batch, 3, seed: 32, requiresGrad: false) };
        (Tensor<double>[] Losses, Tensor<double>[] Boundary) Forward(Tape<double> tape)
        {
            var features = new Tensor<double>[tasks];
            var (losses, boundary) = net.Forward(tape, features);
            for (int t = 1; t < tasks; t++) losses[t] = tape.Add(losses[t], tape.Mse(features[0], targets[t - 1]));
            return (losses, [.. boundary, features[0]]);
        }
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(tasks * shared);
        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(rows.View, 0);                            // the routed backward accumulates
        var (losses, _) = Forward(tape);
        for (int t = 0; t < tasks; t++) tape.Backward(losses[t], group, rows.View.Slice(t * shared, shared));
        var expectedRows = backend.ToArray(rows.View);
        var expectedFlat = backend.ToArray(net.Parameters.Gradients);

        tape.Reset();
        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(rows.View, double.NaN);                   // overwritten
        var (losses2, boundary) = Forward(tape);
        tape.BackwardPerTaskThrough(losses2, boundary, group, rows.View);
        var actualRows = backend.ToArray(rows.View);
        Tolerance.AllClose(expectedRows, actualRows, 1e-12, 1e-14, "DSelect-k gate in the group: per-task rows");
        Tolerance.AllClose(expectedFlat, backend.ToArray(net.Parameters.Gradients), 1e-12, 1e-14, "task-owned gradients");
        int gateStart = net.Part.SharedParameters.Length;
        for (int t = 0; t < tasks; t++)
            foreach (var p in gate)
            {
                int at = t * shared + p.Slot!.Offset - group.Offset;
                Assert.Contains(actualRows[at..(at + p.Length)], v => v != 0);
            }
        Assert.True(gateStart < shared);
    }

    [Theory]
    [InlineData("mmoe")]
    [InlineData("omoe")]
    [InlineData("cgc")]
    [InlineData("ple2")]
    [InlineData("ple3")]
    [InlineData("cross-stitch")]
    [InlineData("dselect-k")]
    public void Task_blocks_are_reached_by_their_own_task_only_and_shared_tensors_by_every_task(string architecture)
    {
        var backend = TestDevices.Reference;
        using var net = new MoeNet(backend, Make(architecture));
        using var tape = new Tape<double>(backend);
        var (losses, _) = net.Forward(tape);
        var slots = net.Parameters.Slots;
        int sharedSlots = net.TaskSlots[0];
        Assert.Equal(net.Part.SharedParameters.Length, slots[sharedSlots].Offset);
        for (int t = 0; t < MoeNet.Tasks; t++)
        {
            backend.Fill(net.Parameters.Gradients, 0);
            tape.Backward(losses[t]);
            var g = backend.ToArray(net.Parameters.Gradients);
            bool Reached(int slot) => g.AsSpan(slots[slot].Offset, slots[slot].Length).ToArray().Any(v => v != 0);
            for (int s = 0; s < sharedSlots; s++) Assert.True(Reached(s), $"{architecture}: task {t} does not reach shared {slots[s].Name}");
            for (int k = 0; k < MoeNet.Tasks; k++)
            {
                int end = k + 1 < MoeNet.Tasks ? net.TaskSlots[k + 1] : slots.Count;
                for (int s = net.TaskSlots[k]; s < end; s++)
                    Assert.True(Reached(s) == (k == t), $"{architecture}: task {t} {(k == t ? "does not reach its own" : "reaches task " + k + "'s")} {slots[s].Name}");
            }
        }
    }

    [Fact]
    public void A_boundary_that_misses_a_path_to_the_shared_block_is_refused()
    {
        var backend = TestDevices.Reference;
        using var net = new MoeNet(backend, Make("ple3"));
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(MoeNet.Tasks * net.Part.SharedParameters.Length);
        var (losses, boundary) = net.Forward(tape);
        var e = Assert.Throws<InvalidOperationException>(() => tape.BackwardPerTaskThrough(losses, boundary[1..], net.Part.SharedParameters, rows.View));
        Assert.Contains("not through the boundary", e.Message);
        // Nothing was left detached: a plain backward afterwards still reaches the shared block.
        backend.Fill(net.Parameters.Gradients, 0);
        tape.Backward(losses[0]);
        Assert.Contains(backend.ToArray(net.Parameters.Gradients)[..net.Part.SharedParameters.Length], g => g != 0);
    }
}

