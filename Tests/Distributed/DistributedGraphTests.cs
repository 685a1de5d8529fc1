using Engine.Distributed;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Tests.Infrastructure;
using Engine.DistributedWorker;
using Engine.Training;

namespace Engine.Tests.Distributed;

/// <summary>
/// Data-parallel training of ordered tasks (docs/maths.md §17.6, §17.7, §20): three in-process ranks
/// (<see cref="InProcessRanks"/>) over shards of 21, 20 and 20 rows whose labelled counts differ widely (rank 0's rows
/// are clicked with probability 0.8, rank 1's 0.5, rank 2's 0.2, and the conversion task is labelled on the clicked rows
/// only) train exactly as one process over all 61 rows: full batch, so each of the 8 Adam epochs is one step of the
/// global batch (2 epochs on ILGPU's CPU accelerator, which is slow, and there 4 of the cases: each shared part, graph
/// and method once), with a validation set (31 rows, each rank evaluating its block) watched by early stopping
/// (patience 4). Checked: the three ranks' weights are bit-identical; they equal the one-process weights within 2e-6
/// absolute; every epoch's training and validation loss (Σλₜ Lₜ) and every task's training and validation loss and
/// accuracy within 2e-6 relative (+1e-7), the labelled counts and the best epoch exactly.
/// <para>Graphs and data (<see cref="GraphTrajectory"/>, shared with the mpirun scenario): <b>esmm</b> — ctr, cvr without
/// a loss and without a column, ctcvr = ctr·cvr, every row labelled (the Σλₜ Lₜ path with the row-share exchange);
/// <b>esmm-missing</b> — the same with a fifth of the click and ctcvr labels missing (the count-weighted per-task path,
/// cvr's row 0); <b>tower</b> — ctr, cvr with its own loss on the clicked rows, ctcvr = ctr·cvr and dwell (regression)
/// whose tower reads [h | σ(z_ctr)], task weights 0.7, 1.3, 0.4, 0.9 (the count-weighted per-task path, the factors'
/// blocks in the shared rows). Each task's global loss is the mean over its
/// labelled values in the global batch (maths §20: Σᵣ nₜ⁽ʳ⁾Lₜ⁽ʳ⁾ / Nₜ); a mean of the ranks' per-rank means misses it by
/// far more than the tolerance with these counts.</para>
/// <para>Tolerance: the ranks' sums are the one process's float32 sums in another order plus one multiplication by nₜ⁽ʳ⁾
/// and one division by Nₜ, a few ulps per element and step; over 8 Adam steps (lr 0.01) measured at most 1.2e-7 on the
/// weights and 1.4e-7 relative on the losses (cpu; 3e-8 and 5e-8 on ILGPU's CPU accelerator), so 2e-6 leaves a margin of
/// ~15×. Weighting the ranks' means equally instead of by nₜ⁽ʳ⁾ (a mean of per-rank means) fails every count-weighted
/// case.</para>
/// </summary>
public sealed class DistributedGraphTests
{
    private const int Ranks = 3, Rows = 61, ValidationRows = 31, Epochs = 8;
    private const ulong Seed = 3;
    private const double WeightTolerance = 2e-6, LossTolerance = 2e-6;

    public static TheoryData<string, string, string> SumCases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe" })
                foreach (var graph in new[] { "esmm", "esmm-missing", "tower" })
                    if (!TestDevices.IsEmulated(device) || (arch, graph) is ("shared-bottom", "esmm-missing") or ("mmoe", "tower"))
                        data.Add(device, arch, graph);   // ILGPU's CPU accelerator is slow: two cases there, one per shared part
            // DSelect-k factors: their gates in the shared rows (the stacked smooth-step and selectors), cpu only
        data.Add(TestDevices.Cpu, "dselect-k", "esmm-missing");
        data.Add(TestDevices.Cpu, "dselect-k", "tower");
        return data;
    }

    /// <summary>The weighted sum of losses (the default method) on a graph: R ranks ≡ one process.</summary>
    [Theory]
    [MemberData(nameof(SumCases))]
    public void Ranks_training_a_task_graph_with_the_sum_of_losses_equal_one_process(string device, string arch, string graph) =>
        RanksEqualOneProcess(device, arch, graph, CombinationMethod.Sum);

    public static TheoryData<string, string, CombinationMethod> PerTaskCases()
    {
        var data = new TheoryData<string, string, CombinationMethod>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe" })
                foreach (var method in new[] { CombinationMethod.PcGrad, CombinationMethod.Mgda })
                    if (!TestDevices.IsEmulated(device) || (arch, method) is ("mmoe", CombinationMethod.PcGrad) or ("shared-bottom", CombinationMethod.Mgda))
                        data.Add(device, arch, method);
        return data;
    }

    /// <summary>PCGrad and MGDA on the tower graph (every task with a loss; ctr's and cvr's blocks in the shared rows, so
    /// the combiner reads their all-reduced per-task rows): R ranks ≡ one process.</summary>
    [Theory]
    [MemberData(nameof(PerTaskCases))]
    public void Ranks_training_a_task_graph_with_a_per_task_method_equal_one_process(string device, string arch, CombinationMethod method) =>
        RanksEqualOneProcess(device, arch, "tower", method);

    public static TheoryData<string, string, CombinationMethod> BesideALossFreeTaskCases()
    {
        var data = new TheoryData<string, string, CombinationMethod>();
        foreach (var device in TestDevices.Float32)
            foreach (var (arch, method) in new[] { ("shared-bottom", CombinationMethod.PcGrad), ("mmoe", CombinationMethod.Mgda), ("dselect-k", CombinationMethod.PcGrad) })
                if (!TestDevices.IsEmulated(device) || arch == "mmoe")
                    data.Add(device, arch, method);
        return data;
    }

    /// <summary>PCGrad and MGDA on esmm-missing, beside cvr which has no loss (§17.6): the T′ = 2 rows of ctr and ctcvr are
    /// all-reduced each with its own task's counts, and the combiner reads them; cvr's block, in the shared rows, is trained
    /// by the losses that reach it: R ranks ≡ one process.</summary>
    [Theory]
    [MemberData(nameof(BesideALossFreeTaskCases))]
    public void Ranks_training_a_per_task_method_beside_a_loss_free_task_equal_one_process(string device, string arch, CombinationMethod method) =>
        RanksEqualOneProcess(device, arch, "esmm-missing", method);

    private static void RanksEqualOneProcess(string device, string arch, string graph, CombinationMethod method)
    {
        var backend = TestDevices.Get(device);
        var (train, validation) = (GraphTrajectory.Data(graph, Rows, seed: 5, Ranks, Seed), GraphTrajectory.Data(graph, ValidationRows, seed: 6, 1, Seed));
        int epochs = TestDevices.IsEmulated(device) ? 2 : Epochs;     // ILGPU's CPU accelerator is slow: fewer steps
        var (reference, referenceWeights) = Train(backend, arch, graph, method, train, validation, epochs, null);
        var ranks = InProcessRanks.Run(Ranks, c => Train(backend, arch, graph, method, train, validation, epochs,
            new DistributedOptions { Communicator = c, WeightCheckSteps = 2 }));

        for (int r = 1; r < Ranks; r++)
            Assert.Equal(ranks[0].Weights.Select(BitConverter.SingleToInt32Bits), ranks[r].Weights.Select(BitConverter.SingleToInt32Bits));
        var (result, weights) = ranks[0];
        string what = $"{device} {arch} {graph} {method}";
        Assert.Equal(reference.BestEpoch, result.BestEpoch);
        Assert.Equal(reference.History.Count, result.History.Count);
        for (int e = 0; e < reference.History.Count; e++)
        {
            var (x, y) = (reference.History[e], result.History[e]);
            Close(x.TrainLoss, y.TrainLoss, $"{what}, epoch {e + 1}: training loss");
            Close(x.ValidationLoss!.Value, y.ValidationLoss!.Value, $"{what}, epoch {e + 1}: validation loss");
            SameTasks(x.Train, y.Train, $"{what}, epoch {e + 1}, training");
            SameTasks(x.Validation!, y.Validation!, $"{what}, epoch {e + 1}, validation");
        }
        Assert.Equal(referenceWeights.Length, weights.Length);
        for (int i = 0; i < weights.Length; i++)
            Assert.True(Math.Abs(weights[i] - referenceWeights[i]) <= WeightTolerance, $"{what}, weight {i}: ranks {weights[i]:R}, one process {referenceWeights[i]:R}");
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss, $"{what}: the loss did not fall");
    }

    private static void SameTasks(IReadOnlyList<TaskMetrics> expected, IReadOnlyList<TaskMetrics> actual, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int t = 0; t < expected.Count; t++)
        {
            Assert.Equal(expected[t].Labelled, actual[t].Labelled);
            Close(expected[t].Loss, actual[t].Loss, $"{what} loss of {expected[t].Task}");
            Assert.Equal(expected[t].Accuracy.HasValue, actual[t].Accuracy.HasValue);
            if (expected[t].Accuracy is { } a) Close(a, actual[t].Accuracy!.Value, $"{what} accuracy of {expected[t].Task}");
        }
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= LossTolerance * Math.Abs(expected) + 1e-7, $"{what}: ranks {actual:R}, one process {expected:R}");

    private static (TrainingResult Result, float[] Weights) Train(Backend<float> backend, string arch, string graph, CombinationMethod method,
        TrainingData train, TrainingData validation, int epochs, DistributedOptions? distributed)
    {
        using var model = MultiTaskModel.Create(GraphTrajectory.Spec(arch, graph), backend);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = epochs, BatchSize = 0, Seed = Seed, EarlyStoppingPatience = 4, Distributed = distributed,
            Step = new StepOptions { Combination = method, LearningRate = 0.01, CombinationSeed = 5 },
        }).Fit(model, train, validation);
        return (result, backend.ToArray(model.Parameters.Values));
    }

    /// <summary>The weighted sum with a communicator and labels that may be missing takes the per-task path: a --no-loss
    /// factor is accepted there, by a per-task method too (it has no row; the combiner reads the T′ rows of the tasks with a
    /// loss), and the refusals that stay name why — a loss-free factor on DSelect-k with an entropy term, a per-task-row
    /// weighting beside a --no-loss task.</summary>
    [Fact]
    public void What_the_forced_per_task_path_cannot_run_is_refused_naming_why()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        var one = SingleProcessCommunicator.Instance;
        using (var esmm = MultiTaskModel.Create(GraphTrajectory.Spec("shared-bottom", "esmm"), backend))
        {
            using (var step = new TrainingStep(esmm, new StepOptions(), 16, communicator: one))
                Assert.True(step.UsesTaskGradients && step.CountWeightedExchange);
            using (var rowShare = new TrainingStep(esmm, new StepOptions(), 16, communicator: one, everyRowLabelled: true))
                Assert.False(rowShare.UsesTaskGradients);
            using (var pcgrad = new TrainingStep(esmm, new StepOptions { Combination = CombinationMethod.PcGrad }, 16, communicator: one))
            {
                long shared = esmm.Parameters.Values.Length - Enumerable.Range(0, 3).Where(t => !esmm.IsTrainedByOthers(t)).Sum(t => (long)esmm.TaskRange(t).Length);
                Assert.Equal(2 * shared, pcgrad.TaskGradients.Length);   // ctr's and ctcvr's rows, none for cvr
            }
            var e = Assert.Throws<NotSupportedException>(() => new TrainingStep(esmm, new StepOptions { Method = "gradnorm" }, 16, communicator: one));
            Assert.Contains("'cvr'", e.Message);
            Assert.Contains("has no loss of its own", e.Message);
        }
        var dselect = GraphTrajectory.Spec("shared-bottom", "esmm") with { Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2, EntropyReg: 0.1) };
        using var model = MultiTaskModel.Create(dselect, backend);
        var refused = Assert.Throws<NotSupportedException>(() => new TrainingStep(model, new StepOptions(), 16, communicator: one));
        Assert.Contains("data-parallel run's per-task path", refused.Message);
        Assert.Contains("'cvr' has no loss of its own", refused.Message);
        Assert.Contains("EntropyReg", refused.Message);
        using (var plain = new TrainingStep(model, new StepOptions(), 16, communicator: one, everyRowLabelled: true))
            Assert.False(plain.UsesTaskGradients);                                    // the Σλₜ Lₜ path runs it
    }
}
