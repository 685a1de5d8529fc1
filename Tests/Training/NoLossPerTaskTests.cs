using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Per-task gradient methods beside a task with no loss of its own (docs/maths.md §17.6; ESMM: ctr, cvr with no loss,
/// ctcvr = ctr·cvr, and dwell, whose tower reads [h_dwell | σ(z_ctr)]). The per-task path differentiates the T′ = 3 tasks
/// with a loss only (ctr, ctcvr, dwell): three rows of the shared block, which holds the shared part and the ctr and cvr blocks
/// (both trained by ctcvr's loss); the combiner runs over those rows with their λ. Each is checked against the float64
/// <see cref="GraphArchitectureTests.Reference"/> (cvr without a loss): every row is its task's float64 gradient of the shared
/// block (rtol 1e-4, atol 1e-6); the Sum combiner through the rows (task-gradient diagnostics) gives θ − η∇Σλₜ Lₜ (abs 2e-6);
/// PCGrad and MGDA on the float64 rows with (λ_ctr, λ_ctcvr, λ_dwell) give the shared block's update; the diagnostics' cosine
/// matrix is T × T in head order with cvr's row and column NaN.
/// </summary>
public class NoLossPerTaskTests
{
    private const int Batch = GraphArchitectureTests.Batch;
    private static readonly double[] Lambda = GraphPerTaskTests.Lambda;
    private static readonly int[] LossTasks = [0, 2, 3];   // ctr, ctcvr, dwell: cvr (1) has no loss

    private static ModelSpec Spec(string arch) => GraphPerTaskTests.Spec(arch) with
    {
        Graph = GraphPerTaskTests.Spec(arch).Graph! with { Unsupervised = ["cvr"] },
    };

    /// <summary>The data without cvr's labels (a loss-free task needs none).</summary>
    private static TrainingData Data()
    {
        var all = GraphPerTaskTests.Data();
        return new TrainingData(all.Inputs, all.InputWidth, [.. all.Tasks.Where(t => t.Name != "cvr")]);
    }

    /// <summary>Task t's float64 gradient of the whole flat buffer (λ = eₜ), cvr without a loss.</summary>
    private static double[] Gradient(ModelSpec spec, MultiTaskModel model, double[] theta, int t) =>
        GraphArchitectureTests.Reference(spec, GraphPerTaskTests.Slots(model), theta, [.. Enumerable.Range(0, 4).Select(k => k == t ? 1.0 : 0.0)]).Gradient;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe", "cgc", "ple", "cross-stitch", "dselect-k" })
                data.Add(device, arch);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_rows_are_the_float64_gradients_of_the_tasks_with_a_loss_and_their_sum_is_the_weighted_sum_step(string device, string arch)
    {
        var spec = Spec(arch);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        Assert.True(model.IsTrainedByOthers(1));                             // cvr's block is in the shared block
        var (cvrOffset, cvrLength) = model.TaskRange(1);
        int s = model.SharedParameters.Length;
        Assert.True(cvrOffset + cvrLength <= s);

        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var data = DeviceDataset.Upload(model, Data());
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr, TaskGradientDiagnostics = true }, Batch);
        Assert.True(step.UsesTaskGradients);
        step.Run(data, 0, Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));

        // T′ = 3 rows, row k = ∇L of LossTasks[k] on the shared block.
        var rows = Tolerance.ToDouble(model.Backend.ToArray(step.TaskGradients));
        Assert.Equal(3 * s, rows.Length);
        var expected = new double[3][];
        for (int k = 0; k < 3; k++)
        {
            expected[k] = Gradient(spec, model, before, LossTasks[k])[..s];
            Tolerance.AllClose(expected[k], rows[(k * s)..((k + 1) * s)], 1e-4, 1e-6, $"{arch}: row {k} ({spec.Heads[LossTasks[k]].Name})");
        }
        // cvr's block: only ctcvr's loss reaches it (through the product), not ctr's nor dwell's.
        Assert.All(rows[cvrOffset..(cvrOffset + cvrLength)], v => Assert.Equal(0, v));
        Assert.Contains(rows[(s + cvrOffset)..(s + cvrOffset + cvrLength)], v => v != 0);
        Assert.All(rows[(2 * s + cvrOffset)..(2 * s + cvrOffset + cvrLength)], v => Assert.Equal(0, v));

        // Sum over the rows with their λ: θ − η∇Σλₜ Lₜ everywhere; cvr's block moved though cvr has no loss.
        var (losses, gradient) = GraphArchitectureTests.Reference(spec, GraphPerTaskTests.Slots(model), before, Lambda);
        Tolerance.AllClose(losses, Tolerance.ToDouble(model.Backend.ToArray(step.TaskLosses)), 1e-5, 1e-6, $"{arch}: task losses (cvr: 0)");
        Tolerance.AllClose([.. before.Select((v, i) => v - lr * gradient[i])], after, 0, 2e-6, $"{arch}: θ after one SGD step");
        Assert.Contains(Enumerable.Range(cvrOffset, cvrLength), i => after[i] != before[i]);

        // Diagnostics: T × T in head order; cvr has no gradient of its own (NaN, no conflicts); the rest the float64 cosines.
        var statistics = step.ReadStatistics();
        var cosines = statistics.TaskGradientCosines!;
        Assert.Equal(4, cosines.GetLength(0));
        for (int t = 0; t < 4; t++)
        {
            Assert.True(double.IsNaN(cosines[1, t]) && double.IsNaN(cosines[t, 1]), $"cos(cvr, {t}) = {cosines[1, t]}");
            Assert.Equal(0, statistics.TaskGradientConflicts![1, t]);
        }
        static double Cos(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(Cos(expected[i], expected[j]), cosines[LossTasks[i], LossTasks[j]], 1e-4);
    }

    public static TheoryData<string, string, string> CombinerCases() => GraphPerTaskTests.Combiners("shared-bottom", "mmoe", "ple", "dselect-k");

    [Theory]
    [MemberData(nameof(CombinerCases))]
    public void A_combiner_runs_over_the_tasks_with_a_loss_and_updates_the_loss_free_tasks_block_with_the_shared_block(string device, string arch, string method)
    {
        var spec = Spec(arch);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        var (before, actual) = GraphPerTaskTests.OneCombinedStep(model, Data(), method);

        int s = model.SharedParameters.Length;
        var own = LossTasks.Select(t => Gradient(spec, model, before, t)).ToArray();
        var rows = own.SelectMany(g => g[..s]).ToArray();
        double[] lambda = [.. LossTasks.Select(t => Lambda[t])];
        var r = TestDevices.Reference;
        using var rowsBuffer = r.Allocate<double>(rows);
        using var weights = r.Allocate<double>(lambda);
        using var expected = r.Allocate<double>(s);
        IGradientCombiner<double> combiner = method == "pcgrad" ? new PcGradCombiner<double>(r, tasks: 3, seed: 5) : new MgdaCombiner<double>(r);
        combiner.Combine(rowsBuffer.View, 3, weights.View, expected.View);
        (combiner as IDisposable)?.Dispose();
        var combined = r.ToArray(expected.View);
        Tolerance.AllClose(combined, actual[..s], 1e-4, 1e-6, $"{arch} {method}: the shared block (shared part + ctr + cvr blocks)");
        // The combiner mattered (not the plain weighted sum), and the shared update did not stop (a 0 row would put 0 in MGDA's hull).
        var sum = Enumerable.Range(0, s).Select(i => Enumerable.Range(0, 3).Sum(k => lambda[k] * rows[k * s + i])).ToArray();
        Assert.True(Enumerable.Range(0, s).Max(i => Math.Abs(sum[i] - combined[i])) > 1e-4, $"{arch} {method} gave the plain sum: the data does not exercise it.");
        var (cvrOffset, cvrLength) = model.TaskRange(1);
        Assert.Contains(actual[cvrOffset..(cvrOffset + cvrLength)], v => Math.Abs(v) > 1e-4);
        // dwell's own block: λ_dwell ∇L_dwell.
        var (offset, length) = model.TaskRange(3);
        Tolerance.AllClose([.. own[2][offset..(offset + length)].Select(v => Lambda[3] * v)], actual[offset..(offset + length)], 1e-4, 1e-6, $"{arch} {method}: dwell's block");
        Assert.Equal(s + length, actual.Length);
    }
}
