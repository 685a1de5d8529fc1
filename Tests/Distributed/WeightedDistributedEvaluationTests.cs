using Engine.Data;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Distributed;

/// <summary>
/// Sample-weighted evaluation on a data-parallel run (maths §19.11, §20): two ranks in one process (<see cref="InProcessRanks"/>),
/// each evaluating its own block of rows with unequal weight sums, their host sums all-reduced, give the one-process weighted evaluation over all rows: the loss
/// Σ DᵢLᵢ / Σ Dᵢ of every task, the weighted RMSE and MAE (a two-column regression in original units, σ = 2 and 0.5) and
/// the weighted accuracy (3-class, binary and 2-label tasks), missing labels in every task and weight-0 rows.
/// <para>Tolerance: the one-process metrics are float64 sums of the downloaded outputs (<see cref="WeightedMetrics"/>),
/// the two ranks' float32 device sums (sᵀE GEMMs, weighted counts) of the same outputs added in double; over 60 rows of
/// O(1) values the float32 sums carry a relative error of a few 1e-7, so rtol 1e-5 + atol 1e-6 has a margin of ~10×.
/// Dropping the weight masses from the exchange (rank 0 dividing the global loss sums by its own mass) misses by ~3×
/// (the ranks' masses are ~14 and ~48): checked by mutating <c>MetricAccumulator.ReadSums</c> so, which fails the loss
/// assertions; and the rank-0-only metrics are asserted to differ from the global ones, so the comparison is not vacuous.</para>
/// </summary>
public sealed class WeightedDistributedEvaluationTests
{
    private const double Relative = 1e-5, Absolute = 1e-6;
    private const int Rank0Rows = 24, Rows = 60;

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Two_ranks_with_unequal_weight_sums_equal_the_one_process_weighted_evaluation(string device)
    {
        var backend = TestDevices.Get(device);
        var data = Data();
        using var model = MultiTaskModel.Create(Spec(), backend);

        var expected = Evaluate(model, data, communicator: null);
        var rank0Alone = Evaluate(model, ShardData.Select(data, [.. Enumerable.Range(0, Rank0Rows)]), SingleProcessCommunicator.Instance);

        var actual = EvaluateOnTwoRanks(model, data);

        for (int t = 0; t < expected.Length; t++)
        {
            var (e, a, alone) = (expected[t], actual[t], rank0Alone[t]);
            Assert.True(e.Weighted && a.Weighted, $"task {e.Task}: Weighted");
            Assert.Equal(e.Labelled, a.Labelled);
            Close(e.Loss, a.Loss, $"{e.Task} loss");
            Assert.True(Math.Abs(alone.Loss - e.Loss) > 1e-3 * Math.Abs(e.Loss), $"{e.Task}: rank 0's own loss {alone.Loss} should differ from the global {e.Loss}");
            if (e.Kind == TaskKind.Regression)
            {
                Close(e.Rmse!.Value, a.Rmse!.Value, $"{e.Task} rmse");
                Close(e.Mae!.Value, a.Mae!.Value, $"{e.Task} mae");
                Assert.Null(a.RSquared);   // needs every output: left out on a data-parallel run, as unweighted
            }
            else
            {
                Close(e.Accuracy!.Value, a.Accuracy!.Value, $"{e.Task} accuracy");
                Assert.Null(a.F1);
                Assert.Null(a.Auc);
            }
        }
    }

    /// <summary>The weighted evaluation of one rank is exchanged even when its shard holds no weight mass for a task (every
    /// labelled row of rank 0 weighs 0 for the binary task here): the global metrics still come from rank 1's mass.</summary>
    [Fact]
    public void A_rank_without_weight_mass_for_a_task_still_reads_the_global_weighted_metrics()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        var data = Data(rank0Weight: _ => 0f);
        using var model = MultiTaskModel.Create(Spec(), backend);
        var expected = Evaluate(model, data, communicator: null);
        var actual = EvaluateOnTwoRanks(model, data);
        for (int t = 0; t < expected.Length; t++)
        {
            Close(expected[t].Loss, actual[t].Loss, $"{expected[t].Task} loss");
            Close((expected[t].Rmse ?? expected[t].Accuracy)!.Value, (actual[t].Rmse ?? actual[t].Accuracy)!.Value, $"{expected[t].Task} rmse/accuracy");
        }
    }

    /// <summary>Rank 0 over rows [0, 24), rank 1 over the rest (<see cref="InProcessRanks"/>): rank 0's metrics, which rank
    /// 1's equal exactly (the same all-reduced sums).</summary>
    private static TaskMetrics[] EvaluateOnTwoRanks(MultiTaskModel model, TrainingData data)
    {
        var ranks = InProcessRanks.Run(2, c => Evaluate(model,
            ShardData.Select(data, c.Rank == 0 ? [.. Enumerable.Range(0, Rank0Rows)] : [.. Enumerable.Range(Rank0Rows, Rows - Rank0Rows)]), c));
        Assert.Equal(ranks[0], ranks[1]);
        return ranks[0];
    }

    private static TaskMetrics[] Evaluate(MultiTaskModel model, TrainingData data, ICommunicator? communicator)
    {
        using var evaluator = new Evaluator(model);
        using var device = DeviceDataset.Upload(model, data);
        return evaluator.Evaluate(device, communicator);
    }

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= Absolute + Relative * Math.Abs(expected), $"{what}: two ranks {actual:R}, one process {expected:R}");

    private static ModelSpec Spec() => new(4, [8],
    [
        TaskHead.Regression("r", 2), TaskHead.Classification("c", 3), TaskHead.Binary("b"), TaskHead.MultiLabel("m", 2),
    ]) { Seed = 11 };

    /// <summary>60 rows; r's two columns (scales 2 and 0.5) missing on every 7th row (and the second on every 5th), c missing on
    /// every 5th, b on every 6th, m's second label on every 4th. Rank 0's 24 rows weigh 0.1–1 (<paramref name="rank0Weight"/>), rank 1's
    /// 36 rows 1–3.5 with rows 30 and 41 at 0: the ranks' weight masses differ from their counts and from each other.</summary>
    private static TrainingData Data(Func<int, float>? rank0Weight = null)
    {
        var rng = new Random(3);
        var x = new float[Rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var r = new float[Rows * 2];
        var c = new int[Rows];
        var b = new int[Rows];
        var m = new int[Rows * 2];
        for (int i = 0; i < Rows; i++)
        {
            float x0 = x[4 * i], x1 = x[4 * i + 1], x2 = x[4 * i + 2], x3 = x[4 * i + 3];
            r[2 * i] = i % 7 == 3 ? float.NaN : x0 - 2 * x1 + 0.5f;
            r[2 * i + 1] = i % 7 == 3 || i % 5 == 2 ? float.NaN : x2 * x3 - 0.25f;
            c[i] = i % 5 == 4 ? MissingLabel.Class : x2 > 0.3f ? 2 : x2 > -0.3f ? 1 : 0;
            b[i] = i % 6 == 1 ? MissingLabel.Class : x3 > 0 ? 1 : 0;
            m[2 * i] = x0 + x3 > 0 ? 1 : 0;
            m[2 * i + 1] = i % 4 == 2 ? MissingLabel.Class : x1 > 0 ? 1 : 0;
        }
        rank0Weight ??= i => 0.1f + 0.1f * (i % 10);
        var weights = Enumerable.Range(0, Rows).Select(i => i < Rank0Rows ? rank0Weight(i) : i is 30 or 41 ? 0f : 1f + 0.5f * (i % 6)).ToArray();
        return new TrainingData(x, 4,
        [
            TaskData.Regression("r", r, 2, [2.0, 0.5]), TaskData.Classification("c", c, 3), TaskData.Binary("b", b), TaskData.MultiLabel("m", m, 2),
        ], weights);
    }
}
