using Engine.Distributed;
using Engine.Kernels;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Distributed;

/// <summary>
/// Sample weights (maths §19.11) and class weights (§19.9) in a data-parallel step (§20): two ranks in one process
/// (<see cref="InProcessRanks"/>), each over its own rows with unequal weight sums, combined by the step's one exchange
/// (the all-reduce adds their packed buffers), give the gradients and losses of the one-process
/// weighted step over all rows.
/// <para>Tolerance: a rank's task gradient is Σ w·∇ℓ / D⁽ʳ⁾ over its rows, multiplied back by D⁽ʳ⁾, summed over the
/// ranks and divided by D = D⁽⁰⁾ + D⁽¹⁾, against Σ w·∇ℓ / D in one pass: the same float32 sums in another order plus
/// one multiplication and one division, a few ulps per element; the sum path (∇Σλᵢ Lᵢ) is compared with the per-task
/// path the exchange forces (Σλᵢ∇Lᵢ). 2e-6 absolute + 1e-5 relative covers that with a margin of ~10× (gradients are
/// O(0.1–1)); a rank weighted by its count instead of its weight sum misses by ~10⁻¹.</para>
/// </summary>
public sealed class WeightedDistributedStepTests
{
    private const float Absolute = 2e-6f, Relative = 1e-5f;
    private const int Rank0Rows = 20, Rows = 48;

    [Theory]
    [InlineData("cpu", CombinationMethod.Sum, true, false)]
    [InlineData("cpu", CombinationMethod.Mgda, true, false)]
    [InlineData("cpu", CombinationMethod.Sum, false, true)]    // class weights alone
    [InlineData("cpu", CombinationMethod.Sum, true, true)]     // both
    [InlineData("ilgpu-cpu", CombinationMethod.Sum, true, true)]
    public void Two_ranks_with_unequal_weight_sums_equal_the_one_process_weighted_step(string device, CombinationMethod method, bool sampleWeights, bool classWeights)
    {
        var data = Weighted(sampleWeights);
        var options = new StepOptions { Combination = method, Optimizer = OptimizerKind.Sgd, LearningRate = 0.1 };
        using var backend = Device.Create(device);

        // The reference: one process, every row.
        using var reference = MultiTaskModel.Create(Spec(classWeights), backend);
        float[] expectedLosses;
        IReadOnlyList<Engine.Metrics.TaskMetrics> expectedMetrics;
        using (var all = DeviceDataset.Upload(reference, data))
        using (var step = new TrainingStep(reference, options, Rows))
        {
            step.Run(all, 0, Rows);
            expectedLosses = backend.ToArray(step.TaskLosses);
            expectedMetrics = step.ReadStatistics().Tasks;
        }
        var expected = backend.ToArray(reference.Parameters.Gradients);
        var expectedValues = backend.ToArray(reference.Parameters.Values);

        // Two ranks, rank 0 over rows [0, 20) and rank 1 over [20, 48) (InProcessRanks: the step's one all-reduce sums
        // their packed buffers); each returns what it holds after the step.
        var ranks = InProcessRanks.Run(2, c =>
        {
            int first = c.Rank == 0 ? 0 : Rank0Rows, rows = c.Rank == 0 ? Rank0Rows : Rows - Rank0Rows;
            using var model = MultiTaskModel.Create(Spec(classWeights), backend);
            using var shard = DeviceDataset.Upload(model, ShardData.Select(data, [.. Enumerable.Range(first, rows)]));
            using var step = new TrainingStep(model, options, Rows, communicator: c);
            Assert.True(step.CountWeightedExchange);
            step.Run(shard, 0, rows, globalRows: Rows);
            return (Gradients: backend.ToArray(model.Parameters.Gradients), Values: backend.ToArray(model.Parameters.Values),
                Losses: backend.ToArray(step.TaskLosses), Labelled: backend.ToArray(step.TaskLabelled), Metrics: step.ReadStatistics().Tasks);
        });
        var rank0 = ranks[0];
        Assert.Equal(rank0.Values, ranks[1].Values);                     // the same update on both ranks

        AssertClose(expected, rank0.Gradients, "gradient");
        AssertClose(expectedValues, rank0.Values, "weight after the step");
        AssertClose(expectedLosses, rank0.Losses, "task loss");
        Assert.Equal([data.Tasks[0].LabelledCount, data.Tasks[1].LabelledCount], rank0.Labelled.Select(c => (int)c).ToArray());
        // The step's running RMSE, MAE and accuracy (weighted with sample weights) travel in the exchange: the global ones.
        var metrics = rank0.Metrics;
        for (int t = 0; t < 2; t++)
        {
            Assert.Equal(sampleWeights, metrics[t].Weighted);
            foreach (var (e, a, what) in new[] { (expectedMetrics[t].Rmse, metrics[t].Rmse, "rmse"), (expectedMetrics[t].Mae, metrics[t].Mae, "mae"),
                (expectedMetrics[t].Accuracy, metrics[t].Accuracy, "accuracy") })
            {
                Assert.Equal(e.HasValue, a.HasValue);
                if (e is { } x) Assert.True(Math.Abs(a!.Value - x) <= 1e-5 * Math.Abs(x) + 1e-7, $"task {t} {what}: two ranks {a}, one process {x}");
            }
        }
    }

    [Fact]
    public void A_warm_weighted_data_parallel_step_allocates_nothing()
    {
        var cpu = new Engine.Kernels.Cpu.CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(classWeights: true), cpu);
        using var device = DeviceDataset.Upload(model, Weighted(sampleWeights: true), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { MaxGradNorm = 1.0 }, 16, communicator: SingleProcessCommunicator.Instance);
        for (int b = 0; b < 3; b++) step.Run(device, b * 16, 16, globalRows: 32);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 3) * 16, 16, globalRows: 32); });
    }

    /// <summary>A step built for the row-share exchange (every row labelled, unweighted) refuses sample-weighted data
    /// rather than weigh the ranks by their rows; the Trainer builds the count-weighted one for weighted data.</summary>
    [Fact]
    public void A_row_share_step_refuses_sample_weighted_data_and_the_trainer_weighs_by_the_weight_sums()
    {
        var cpu = new Engine.Kernels.Cpu.CpuBackend<float>();
        var full = Problems.Data(Rows, seed: 5);
        var weighted = new TrainingData(full.Inputs, full.InputWidth, full.Tasks, [.. Enumerable.Range(0, Rows).Select(r => 0.5f + r % 3)]);
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, weighted);
        using (var rowShare = new TrainingStep(model, new StepOptions(), Rows, communicator: SingleProcessCommunicator.Instance, everyRowLabelled: true))
            Assert.Contains("everyRowLabelled: false", Assert.Throws<NotSupportedException>(() => rowShare.Run(device, 0, Rows)).Message);

        var result = new Trainer(new TrainerOptions
        {
            Epochs = 2, BatchSize = 16, Seed = 1,
            Distributed = new DistributedOptions { Communicator = SingleProcessCommunicator.Instance, WeightCheckSteps = 1000 },
        }).Fit(model, weighted, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2, result.History.Count);
        Assert.All(result.History, e => Assert.True(double.IsFinite(e.Train[0].Loss)));
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= Absolute + Relative * Math.Abs(expected[i]),
                $"{what} {i}: two ranks {actual[i]:R}, one process {expected[i]:R}");
    }

    /// <summary>Problems.Spec(), the classification head with class weights (1, 3, 0.5) when asked.</summary>
    private static ModelSpec Spec(bool classWeights) => classWeights
        ? new(5, [8, 6], [new TaskHead("reg", Engine.Data.TaskKind.Regression, 2, 1.0),
            new TaskHead("cls", Engine.Data.TaskKind.Classification, 3, 0.5) { ClassWeights = [1.0, 3.0, 0.5] }]) { TrunkActivation = Activation.Tanh, Seed = 7 }
        : Problems.Spec();

    /// <summary>48 rows, labels missing unevenly (every third row's regression values, every fourth row's class); with
    /// <paramref name="sampleWeights"/>, rank 0's 20 rows weigh 0.2–1.1 and rank 1's 28 rows 1–4 (and one 0): the ranks'
    /// weight sums differ from their labelled counts and from each other.</summary>
    private static TrainingData Weighted(bool sampleWeights)
    {
        var data = Problems.Data(Rows, seed: 4);
        var reg = (float[])data.Tasks[0].Values!.Clone();
        var cls = (int[])data.Tasks[1].Classes!.Clone();
        for (int r = 0; r < Rows; r++)
        {
            if (r % 3 == 0) reg[2 * r] = reg[2 * r + 1] = float.NaN;
            if (r % 4 == 1) cls[r] = MissingLabel.Class;
        }
        float[]? weights = sampleWeights
            ? [.. Enumerable.Range(0, Rows).Select(r => r < Rank0Rows ? 0.2f + 0.1f * (r % 10) : r == 30 ? 0f : 1f + r % 4)]
            : null;
        return new TrainingData(data.Inputs, 5, [TaskData.Regression("reg", reg, 2), TaskData.Classification("cls", cls, 3)], weights);
    }
}
