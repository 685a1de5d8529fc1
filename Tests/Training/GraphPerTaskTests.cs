using Engine.Autodiff;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Per-task gradient methods on ordered tasks (docs/maths.md §17.6): ctr, cvr (with a loss of its own here), ctcvr =
/// ctr·cvr and dwell, whose tower reads [h_dwell | σ(z_ctr)]. The ctr and cvr blocks are reached by more than one loss
/// (their own, ctcvr's, and for ctr dwell's), so they join the shared block; dwell keeps its own. Each is checked against
/// <see cref="GraphArchitectureTests.Reference"/>, the float64 model written apart from the fast path: the per-task rows
/// are each task's float64 gradient of the shared block (on DSelect-k the stacked pass runs through the factors' DSelect gates:
/// <c>Ops.SmoothStepBackwardStacked</c>, <c>Ops.SelectorsBackwardStacked</c>); the Sum path through those rows with task weights λ gives
/// θ − η∇Σλₜ Lₜ; PCGrad and MGDA put the float64 combiner's output on the float64 rows on the shared block and λ·own
/// gradient on dwell's block.
/// </summary>
public class GraphPerTaskTests
{
    private const int Batch = GraphArchitectureTests.Batch;
    internal static readonly double[] Lambda = [0.7, 1.3, 0.4, 0.9];
    private static readonly int M = EsmmNet.Missing;
    private static readonly int[] CvrLabels = [1, M, 0, 1, M, M, 0, M]; // conversion given a click

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe", "omoe", "cgc", "ple", "cross-stitch", "dselect-k", "dselect-k-entropy" })
                data.Add(device, arch);
        return data;
    }

    internal static ModelSpec Spec(string arch) =>
        new(GraphArchitectureTests.Features, [GraphArchitectureTests.Hidden],
            [TaskHead.Binary("ctr") with { LossWeight = Lambda[0] }, TaskHead.Binary("cvr") with { LossWeight = Lambda[1] },
             TaskHead.Binary("ctcvr") with { LossWeight = Lambda[2] }, TaskHead.Regression("dwell") with { LossWeight = Lambda[3] }])
        {
            Architecture = arch == "shared-bottom" ? null : GraphArchitectureTests.s_architectures[arch],
            Tower = [GraphArchitectureTests.Tower],
            Graph = new TaskGraph
            {
                Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "cvr"] },
                Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"] },
            },
            Seed = 17,
        };

    internal static TrainingData Data() =>
        new(Tolerance.ToFloat(EsmmNet.Inputs), GraphArchitectureTests.Features,
            [TaskData.Binary("ctr", EsmmNet.ClickLabels), TaskData.Binary("cvr", CvrLabels), TaskData.Binary("ctcvr", EsmmNet.ConversionLabels),
             TaskData.Regression("dwell", Tolerance.ToFloat(GraphArchitectureTests.Dwell))]);

    internal static (string, int, int)[] Slots(MultiTaskModel model) => [.. model.Parameters.Slots.Select(s => (s.Name, s.Offset, s.Length))];

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_factors_blocks_join_the_shared_block_and_each_row_is_its_tasks_float64_gradient(string device, string arch)
    {
        var spec = Spec(arch);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        // Layout: the shared part, then the blocks another loss trains (ctr, cvr), then dwell's; the product has none.
        Assert.Equal([true, true, false, false], Enumerable.Range(0, 4).Select(model.IsTrainedByOthers));
        var shared = model.SharedParameters;
        Assert.Equal(0, shared.Offset);
        Assert.Equal(model.Shared.SharedParameters.Length + model.TaskRange(0).Length + model.TaskRange(1).Length, shared.Length);
        Assert.Equal(shared.Length, model.TaskRange(3).Offset);
        Assert.True(model.TaskRange(0).Offset >= model.Shared.SharedParameters.Length && model.TaskRange(1).Offset + model.TaskRange(1).Length <= shared.Length);

        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var data = DeviceDataset.Upload(model, Data());
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr, TaskGradientDiagnostics = true }, Batch);
        Assert.True(step.UsesTaskGradients);
        step.Run(data, 0, Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));

        // Row t = ∇Lₜ of the shared block alone (float64, λ = eₜ).
        int s = shared.Length;
        var rows = Tolerance.ToDouble(model.Backend.ToArray(step.TaskGradients));
        for (int t = 0; t < 4; t++)
        {
            double[] unit = [.. Enumerable.Range(0, 4).Select(k => k == t ? 1.0 : 0.0)];
            var (_, g) = GraphArchitectureTests.Reference(spec, Slots(model), before, unit, CvrLabels);
            Tolerance.AllClose(g[..s], rows[(t * s)..((t + 1) * s)], 1e-4, 1e-6, $"{arch}: per-task row {spec.Heads[t].Name}");
            Assert.Contains(rows[(t * s)..((t + 1) * s)], v => v != 0);
        }
        // What reaches what: L_ctr none of cvr's block; L_ctcvr and L_dwell reach ctr's; L_cvr none of ctr's.
        var (cvrOffset, cvrLength) = model.TaskRange(1);
        var (ctrOffset, ctrLength) = model.TaskRange(0);
        Assert.All(rows[cvrOffset..(cvrOffset + cvrLength)], v => Assert.Equal(0, v));
        Assert.All(rows[(s + ctrOffset)..(s + ctrOffset + ctrLength)], v => Assert.Equal(0, v));
        Assert.Contains(rows[(2 * s + ctrOffset)..(2 * s + ctrOffset + ctrLength)], v => v != 0);
        Assert.Contains(rows[(3 * s + ctrOffset)..(3 * s + ctrOffset + ctrLength)], v => v != 0);

        // The Sum combiner through the rows: θ − η∇Σλₜ Lₜ everywhere (shared block and dwell's own, weighted by λ_dwell).
        var (losses, gradient) = GraphArchitectureTests.Reference(spec, Slots(model), before, Lambda, CvrLabels);
        Tolerance.AllClose(losses, Tolerance.ToDouble(model.Backend.ToArray(step.TaskLosses)), 1e-5, 1e-6, $"{arch}: task losses");
        Tolerance.AllClose([.. before.Select((v, i) => v - lr * gradient[i])], after, 0, 2e-6, $"{arch}: θ after one SGD step");
    }

    public static TheoryData<string, string, string> CombinerCases() => Combiners("shared-bottom", "mmoe", "ple", "dselect-k", "dselect-k-entropy");

    /// <summary>Every float32 device × <paramref name="archs"/> × PCGrad and MGDA.</summary>
    internal static TheoryData<string, string, string> Combiners(params string[] archs)
    {
        var data = new TheoryData<string, string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in archs)
                foreach (var method in new[] { "pcgrad", "mgda" })
                    data.Add(device, arch, method);
        return data;
    }

    /// <summary>θ before, and the gradient buffer after, one SGD step (lr 0.1, the whole batch) of PCGrad (seed 5) or MGDA.</summary>
    internal static (double[] Before, double[] Gradients) OneCombinedStep(MultiTaskModel model, TrainingData rows, string method)
    {
        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var data = DeviceDataset.Upload(model, rows);
        var options = new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, Combination = method == "pcgrad" ? CombinationMethod.PcGrad : CombinationMethod.Mgda, CombinationSeed = 5 };
        using var step = new TrainingStep(model, options, Batch);
        step.Run(data, 0, Batch);
        return (before, Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Gradients)));
    }

    [Theory]
    [MemberData(nameof(CombinerCases))]
    public void A_combiner_acts_on_the_shared_block_with_the_factors_and_the_rest_keeps_lambda_times_its_gradient(string device, string arch, string method)
    {
        var spec = Spec(arch);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        var (before, actual) = GraphPerTaskTests.OneCombinedStep(model, Data(), method);

        int s = model.SharedParameters.Length;
        var rows = new double[4 * s];
        var own = new double[4][];
        for (int t = 0; t < 4; t++)
        {
            double[] unit = [.. Enumerable.Range(0, 4).Select(k => k == t ? 1.0 : 0.0)];
            var (_, g) = GraphArchitectureTests.Reference(spec, Slots(model), before, unit, CvrLabels);
            g[..s].CopyTo(rows, t * s);
            own[t] = g;
        }
        var r = TestDevices.Reference;
        using var rowsBuffer = r.Allocate<double>(rows);
        using var weights = r.Allocate<double>(Lambda);
        using var expected = r.Allocate<double>(s);
        IGradientCombiner<double> combiner = method == "pcgrad" ? new PcGradCombiner<double>(r, 4, 5) : new MgdaCombiner<double>(r);
        combiner.Combine(rowsBuffer.View, 4, weights.View, expected.View);
        (combiner as IDisposable)?.Dispose();
        var combined = r.ToArray(expected.View);
        Tolerance.AllClose(combined, actual[..s], 1e-4, 1e-6, $"{arch} {method}: the shared block (shared part + ctr + cvr blocks)");
        // The combiner mattered: not the plain weighted sum of the rows.
        var sum = Enumerable.Range(0, s).Select(i => Enumerable.Range(0, 4).Sum(t => Lambda[t] * rows[t * s + i])).ToArray();
        Assert.True(Enumerable.Range(0, s).Max(i => Math.Abs(sum[i] - combined[i])) > 1e-4, $"{arch} {method} gave the plain sum: the data does not exercise it.");
        // dwell's own block: λ_dwell ∇L_dwell; the product has no block.
        var (offset, length) = model.TaskRange(3);
        Tolerance.AllClose([.. own[3][offset..(offset + length)].Select(v => Lambda[3] * v)], actual[offset..(offset + length)], 1e-4, 1e-6, $"{arch} {method}: dwell's block");
        Assert.Equal(s + length, actual.Length);
    }

    public static TheoryData<string, string> ChainCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe", "cross-stitch" })
                data.Add(device, arch);
        return data;
    }

    /// <summary>cvr's tower also reads σ(z_ctr): a factor of the product whose own input is a concatenation, so the stacked pass
    /// runs [h_cvr | σ(z_ctr)]'s backward for all tasks at once (<c>Ops.ConcatColumnsBackwardStacked</c>) and then goes on into
    /// ctr's block. Each per-task row against the plain (not stacked) backward of that task's loss alone: the Sum path of a
    /// model built from the same seed with λ = eₜ (rtol 1e-4, atol 1e-6).</summary>
    [Theory]
    [MemberData(nameof(ChainCases))]
    public void A_factor_whose_tower_reads_another_task_gets_the_rows_of_the_plain_backward(string device, string arch)
    {
        ModelSpec Chain(double[] lambda) => Spec(arch) with
        {
            Heads = [.. Spec(arch).Heads.Select((h, t) => h with { LossWeight = lambda[t] })],
            Graph = Spec(arch).Graph! with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"], ["cvr"] = ["ctr"] } },
        };
        var backend = TestDevices.Get(device);
        using var model = MultiTaskModel.Create(Chain(Lambda), backend);
        using var data = DeviceDataset.Upload(model, Data());
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, TaskGradientDiagnostics = true }, Batch);
        step.Run(data, 0, Batch);
        int s = model.SharedParameters.Length;
        var rows = Tolerance.ToDouble(backend.ToArray(step.TaskGradients));
        RowsArePlainBackwards(Chain, Data(), 4, rows, s, backend, arch);
        // L_cvr reaches ctr's block now (through cvr's tower input).
        var (ctrOffset, ctrLength) = model.TaskRange(0);
        Assert.Contains(rows[(s + ctrOffset)..(s + ctrOffset + ctrLength)], v => v != 0);
    }

    /// <summary>dwell's tower reads the product ctcvr = ctr·cvr, and a fifth task, stay (regression), reads dwell's value: dwell is
    /// then trained by another task's loss, so its block joins the shared block and the stacked pass runs the product's
    /// backward for all tasks at once (<c>Ops.ProductBackwardStacked</c>) on its way into ctr's and cvr's blocks. Each of the
    /// five per-task rows against the plain backward of that task's loss alone (the Sum path of a model from the same seed
    /// with λ = eₜ; rtol 1e-4, atol 1e-6), then PCGrad's update of the shared block against the float64 combiner on those rows.</summary>
    [Theory]
    [MemberData(nameof(ChainCases))]
    public void A_factor_whose_tower_reads_a_product_gets_the_rows_of_the_plain_backward(string device, string arch)
    {
        ModelSpec Chain(double[] lambda) => Spec(arch) with
        {
            Heads = [.. Spec(arch).Heads.Append(TaskHead.Regression("stay")).Select((h, t) => h with { LossWeight = lambda[t] })],
            Graph = Spec(arch).Graph! with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctcvr"], ["stay"] = ["dwell"] } },
        };
        var data5 = new TrainingData(Tolerance.ToFloat(EsmmNet.Inputs), GraphArchitectureTests.Features,
            [TaskData.Binary("ctr", EsmmNet.ClickLabels), TaskData.Binary("cvr", CvrLabels), TaskData.Binary("ctcvr", EsmmNet.ConversionLabels),
             TaskData.Regression("dwell", Tolerance.ToFloat(GraphArchitectureTests.Dwell)),
             TaskData.Regression("stay", [.. GraphArchitectureTests.Dwell.Select((v, i) => (float)(Math.Cos(3 * v) + 0.1 * i))])]);
        var backend = TestDevices.Get(device);
        double[] lambda = [.. Lambda, 0.6];
        using var model = MultiTaskModel.Create(Chain(lambda), backend);
        Assert.Equal([true, true, false, true, false], Enumerable.Range(0, 5).Select(model.IsTrainedByOthers));
        using var data = DeviceDataset.Upload(model, data5);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1, Combination = CombinationMethod.PcGrad, CombinationSeed = 5 }, Batch);
        step.Run(data, 0, Batch);
        int s = model.SharedParameters.Length;
        var rows = Tolerance.ToDouble(backend.ToArray(step.TaskGradients));
        Assert.Equal(5 * s, rows.Length);
        RowsArePlainBackwards(Chain, data5, 5, rows, s, backend, arch);
        // L_stay reaches cvr's block only through the product dwell reads: the stacked product backward.
        var (cvrOffset, cvrLength) = model.TaskRange(1);
        Assert.Contains(rows[(4 * s + cvrOffset)..(4 * s + cvrOffset + cvrLength)], v => v != 0);

        var r = TestDevices.Reference;
        using var rowsBuffer = r.Allocate<double>(rows);
        using var weights = r.Allocate<double>(lambda);
        using var expectedShared = r.Allocate<double>(s);
        using (var pcgrad = new PcGradCombiner<double>(r, tasks: 5, seed: 5)) pcgrad.Combine(rowsBuffer.View, 5, weights.View, expectedShared.View);
        Tolerance.AllClose(r.ToArray(expectedShared.View), Tolerance.ToDouble(backend.ToArray(model.Parameters.Gradients))[..s], 1e-4, 1e-6, $"{arch}: PCGrad on the shared block");
    }

    /// <summary>Row t of <paramref name="rows"/> [tasks × s] against the plain (not stacked) backward of task t's loss alone: the
    /// Sum path of <paramref name="chain"/>(λ = eₜ), a model from the same seed (rtol 1e-4, atol 1e-6).</summary>
    private static void RowsArePlainBackwards(Func<double[], ModelSpec> chain, TrainingData rowsData, int tasks, double[] rows, int s, Backend<float> backend, string arch)
    {
        for (int t = 0; t < tasks; t++)
        {
            using var single = MultiTaskModel.Create(chain([.. Enumerable.Range(0, tasks).Select(k => k == t ? 1.0 : 0.0)]), backend);
            using var singleData = DeviceDataset.Upload(single, rowsData);
            using var plain = new TrainingStep(single, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.1 }, Batch);
            Assert.False(plain.UsesTaskGradients);
            plain.Run(singleData, 0, Batch);
            var expected = Tolerance.ToDouble(backend.ToArray(single.Parameters.Gradients))[..s];
            Assert.Contains(expected, v => v != 0);
            Tolerance.AllClose(expected, rows[(t * s)..((t + 1) * s)], 1e-4, 1e-6, $"{arch}: per-task row {t}");
        }
    }

    [Fact]
    public void What_the_stacked_pass_cannot_run_is_refused_naming_why()
    {
        var noLoss = Spec("shared-bottom") with { Graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr") };
        using (var model = MultiTaskModel.Create(noLoss, TestDevices.Get(TestDevices.Cpu)))
        {
            // A weighting that reads one per-task row per task: cvr (no loss) has none.
            var e = Assert.Throws<NotSupportedException>(() => new TrainingStep(model, new StepOptions { Method = "gradnorm" }, Batch));
            Assert.Contains("'gradnorm' weighting reads one per-task row for every task", e.Message);
            Assert.Contains("'cvr' has no loss of its own", e.Message);
        }
        // A loss-free factor's DSelect-k gate with an entropy term: the term has no row to go to (with a loss it has: the cases above).
        using (var model = MultiTaskModel.Create(noLoss with { Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2, EntropyReg: 0.1) }, TestDevices.Get(TestDevices.Cpu)))
        {
            var e = Assert.Throws<NotSupportedException>(() => new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, Batch));
            Assert.Contains("'cvr' has no loss of its own", e.Message);
            Assert.Contains("entropy term", e.Message);
            Assert.Contains("EntropyReg", e.Message);
        }
        using (var model = MultiTaskModel.Create(Spec("dselect-k-entropy"), TestDevices.Get(TestDevices.Cpu)))
        using (var supervised = new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, Batch))
            Assert.True(supervised.UsesTaskGradients);                                    // with its own loss, the term has cvr's row
        // The weighted sum of losses still trains both.
        using var sum = MultiTaskModel.Create(noLoss, TestDevices.Get(TestDevices.Cpu));
        using var step = new TrainingStep(sum, new StepOptions(), Batch);
        Assert.False(step.UsesTaskGradients);
    }
}
