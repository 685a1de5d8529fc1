using Engine.Tests.Infrastructure;
using Engine.Distributed;
using Engine.DistributedWorker;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Distributed;

/// <summary>In-process parts of data-parallel training: the shard plan, the weight hash, the exchange on one rank
/// (bit-identical to the plain step, allocation-free), and the drift check's error.</summary>
public sealed class DistributedStepTests
{
    [Fact]
    public void Shards_are_disjoint_cover_the_rows_ascending_and_are_the_same_on_every_run()
    {
        var shards = new RowShards(10, 3, seed: 9);
        Assert.Equal([4, 3, 3], new[] { shards.Size(0), shards.Size(1), shards.Size(2) });
        var all = Enumerable.Range(0, 3).SelectMany(shards.RowsOf).ToArray();
        Assert.Equal(Enumerable.Range(0, 10), all.Order());                  // disjoint and complete
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(shards.RowsOf(r).Order(), shards.RowsOf(r));         // ascending
            Assert.Equal(shards.RowsOf(r), new RowShards(10, 3, seed: 9).RowsOf(r));
        }
        Assert.NotEqual(shards.RowsOf(0), new RowShards(10, 3, seed: 10).RowsOf(0));
        Assert.Equal(Enumerable.Range(0, 7), new RowShards(7, 1, seed: 9).RowsOf(0));  // one rank: file order
        Assert.Throws<ArgumentException>(() => new RowShards(2, 3, 0));
    }

    [Fact]
    public void Every_rank_takes_the_same_number_of_steps_and_the_last_batch_takes_the_rest()
    {
        var s = new RowShards(95, 2, 0);                                      // 48 and 47 rows, local batch 10
        Assert.Equal(5, s.Steps(10));
        Assert.Equal([10, 10, 10, 10, 8], Enumerable.Range(0, 5).Select(k => s.StepRows(0, k, 10)));
        Assert.Equal([10, 10, 10, 10, 7], Enumerable.Range(0, 5).Select(k => s.StepRows(1, k, 10)));
        Assert.Equal(15, s.GlobalStepRows(4, 10));
        Assert.Equal(10, s.MaxStepRows(10));
        var t = new RowShards(769, 2, 0);                                     // 385 and 384, batch 32: 12 steps, last 33 and 32
        Assert.Equal(12, t.Steps(32));
        Assert.Equal(33, t.StepRows(0, 11, 32));
        Assert.Equal(32, t.StepRows(1, 11, 32));
        Assert.Equal(33, t.MaxStepRows(32));
        Assert.Equal(1, t.Steps(0));                                          // full batch: the whole shard
        Assert.Equal(385, t.StepRows(0, 0, 0));
    }

    [Fact]
    public void The_weight_hash_sees_every_bit()
    {
        float[] a = [1f, -2.5f, 0f, 3e-38f];
        Assert.Equal(WeightHash.Of(a), WeightHash.Of([.. a]));
        var b = (float[])a.Clone();
        b[3] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(b[3]) ^ 1);   // one ulp
        Assert.NotEqual(WeightHash.Of(a), WeightHash.Of(b));
        Assert.NotEqual(WeightHash.Of([0f]), WeightHash.Of([-0f]));
    }

    [Theory]
    [InlineData(CombinationMethod.Sum, 0)]
    [InlineData(CombinationMethod.Sum, 20)]
    [InlineData(CombinationMethod.PcGrad, 20)]
    [InlineData(CombinationMethod.Mgda, 0)]
    public void One_rank_with_a_communicator_trains_bit_identically_to_a_plain_run(CombinationMethod method, int batch)
    {
        Assert.Equal(Train(method, batch, null), Train(method, batch, new DistributedOptions { Communicator = SingleProcessCommunicator.Instance, WeightCheckSteps = 3 }));
    }

    [Theory]
    [InlineData(CombinationMethod.Sum, WeightingMethod.Static, true)]
    [InlineData(CombinationMethod.Sum, WeightingMethod.Uncertainty, true)]
    [InlineData(CombinationMethod.Sum, WeightingMethod.LossBalanced, true)]   // per-task path on data-parallel runs
    [InlineData(CombinationMethod.PcGrad, WeightingMethod.Static, true)]
    [InlineData(CombinationMethod.Sum, WeightingMethod.Static, false)]        // labels may be missing: count-weighted
    [InlineData(CombinationMethod.Sum, WeightingMethod.Uncertainty, false)]
    [InlineData(CombinationMethod.Mgda, WeightingMethod.Static, false)]
    public void A_warm_data_parallel_step_allocates_nothing(CombinationMethod combination, WeightingMethod weighting, bool everyRowLabelled)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, everyRowLabelled ? Problems.Data(64, seed: 1) : WithMissingLabels(Problems.Data(64, seed: 1)), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, Weighting = weighting, MaxGradNorm = 1.0 }, 16,
            communicator: SingleProcessCommunicator.Instance, everyRowLabelled: everyRowLabelled);
        Assert.Equal(!everyRowLabelled, step.CountWeightedExchange);
        Assert.True(step.ExchangedFloats > model.TaskCount);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16, globalRows: 32);      // share ½: the scale launch runs too

        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16, globalRows: 32); });
    }

    /// <summary>The contract: each step is exactly ONE all-reduce (of the device buffer), and reading the epoch's
    /// statistics adds none (the metric sums travelled in the steps' buffers). Counted on a communicator that records
    /// every collective, through the real Trainer, with every label and with labels missing.</summary>
    [Theory]
    [InlineData(CombinationMethod.Sum, true)]
    [InlineData(CombinationMethod.Sum, false)]
    [InlineData(CombinationMethod.PcGrad, false)]
    [InlineData(CombinationMethod.Mgda, true)]
    public void Each_step_does_exactly_one_all_reduce(CombinationMethod method, bool everyRowLabelled)
    {
        using var backend = Device.Create("cpu");
        using var model = MultiTaskModel.Create(Problems.Spec(), backend);
        var data = everyRowLabelled ? Problems.Data(60, seed: 3) : WithMissingLabels(Problems.Data(60, seed: 3));
        var counting = new CountingCommunicator();
        var result = new Trainer(new TrainerOptions
        {
            Epochs = 3, BatchSize = 16, Seed = 1,                                       // 4 steps an epoch (16, 16, 16, 12)
            Distributed = new DistributedOptions { Communicator = counting, WeightCheckSteps = 1000 },
            Step = new StepOptions { Combination = method, LearningRate = 0.01 },
        }).Fit(model, data, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(3, result.History.Count);
        Assert.Equal(12, counting.DeviceAllReduces);                                    // one per step
        Assert.Equal(0, counting.HostAllReduces);                                       // no per-epoch metric reduction
        Assert.Equal(3, counting.Agreements);                                           // the weight check after each epoch
        Assert.Equal(1, counting.Broadcasts);                                           // rank 0's initial weights
        Assert.All(counting.Lengths, n => Assert.Equal(counting.Lengths[0], n));         // the same buffer every step
        for (int t = 0; t < 2; t++)                                                     // the metric sums came through the steps' buffers
            Assert.Equal(data.Tasks[t].LabelledCount, result.History[^1].Train[t].Labelled);
    }

    /// <summary>The epoch's statistics are the global batch's: with a share of 16 of 32 rows per step, the rows
    /// reported are the global 32 per step (not this rank's 16).</summary>
    [Fact]
    public void Reported_rows_are_the_global_rows()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions(), 16, communicator: SingleProcessCommunicator.Instance, everyRowLabelled: true);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16, globalRows: 32);
        var statistics = step.ReadStatistics();
        Assert.Equal(4, statistics.Steps);
        Assert.Equal(128, statistics.Rows);
    }

    /// <summary>A task with no label anywhere in the global batch: its count Nₜ = 0, its gradient 0 (never 0/0 = NaN),
    /// its own parameters untouched, the others trained; the global count is what the optimizer's gate reads.</summary>
    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.Mgda)]
    public void A_task_without_any_label_contributes_zero_gradient_not_NaN(CombinationMethod method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        var full = Problems.Data(32, seed: 2);
        var data = new TrainingData(full.Inputs, 5, [full.Tasks[0], TaskData.Classification("cls", Enumerable.Repeat(Engine.Kernels.MissingLabel.Class, 32).ToArray(), 3)]);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { Combination = method }, 32, communicator: SingleProcessCommunicator.Instance);
        var (offset, length) = model.TaskRange(1);
        var before = cpu.ToArray(model.Parameters.Values);
        step.Run(device, 0, 32, globalRows: 64);
        var after = cpu.ToArray(model.Parameters.Values);
        Assert.All(after, w => Assert.True(float.IsFinite(w)));
        Assert.Equal(before.AsSpan(offset, length).ToArray(), after.AsSpan(offset, length).ToArray());   // head 'cls' untouched
        Assert.Equal(0f, cpu.ToArray(step.TaskLabelled)[1]);
        Assert.Equal(0f, cpu.ToArray(step.TaskLosses)[1]);
        Assert.All(cpu.ToArray(model.Parameters.Gradients).AsSpan(offset, length).ToArray(), g => Assert.Equal(0f, g));
        Assert.NotEqual(before.AsSpan(0, offset).ToArray(), after.AsSpan(0, offset).ToArray());      // the shared part trained
    }

    /// <summary>Every third row without its regression values and every fourth without its class.</summary>
    private static TrainingData WithMissingLabels(TrainingData data)
    {
        var reg = (float[])data.Tasks[0].Values!.Clone();
        var cls = (int[])data.Tasks[1].Classes!.Clone();
        for (int r = 0; r < data.Rows; r++)
        {
            if (r % 3 == 0) reg[2 * r] = reg[2 * r + 1] = float.NaN;
            if (r % 4 == 1) cls[r] = Engine.Kernels.MissingLabel.Class;
        }
        return new TrainingData(data.Inputs, data.InputWidth, [TaskData.Regression("reg", reg, 2), TaskData.Classification("cls", cls, 3)]);
    }

    [Fact]
    public void Ranks_whose_weights_differ_end_training_with_a_message()
    {
        var options = new DistributedOptions { Communicator = new DisagreeingCommunicator(), WeightCheckSteps = 2 };
        var e = Assert.Throws<CommunicatorException>(() => Train(CombinationMethod.Sum, 20, options));   // 5 steps an epoch: the check after step 2 fails
        Assert.Contains("the weights differ between ranks after step 2", e.Message);
    }

    private static string Train(CombinationMethod method, int batch, DistributedOptions? distributed)
    {
        using var backend = Device.Create("cpu");
        var spec = new ModelSpec(Trajectory.Inputs, [8], [TaskHead.Regression("a"), TaskHead.Regression("b"), TaskHead.Classification("c", 3)]) { Seed = 2 };
        using var model = MultiTaskModel.Create(spec, backend);
        new Trainer(new TrainerOptions
        {
            Epochs = 4, BatchSize = batch, Seed = 1, Distributed = distributed,
            Step = new StepOptions { Combination = method, LearningRate = 0.01 },
        }).Fit(model, Trajectory.Problem());
        return string.Join(' ', backend.ToArray(model.Parameters.Values).Select(w => BitConverter.SingleToInt32Bits(w).ToString("X8")));
    }

    /// <summary>One rank that counts every collective it is asked for (and the lengths of the device all-reduces).</summary>
    private sealed class CountingCommunicator : ICommunicator
    {
        public int DeviceAllReduces, HostAllReduces, Broadcasts, Barriers, Agreements;
        public List<int> Lengths { get; } = [];
        public int Rank => 0;
        public int Size => 1;
        public string Description => "counting";
        public void AllReduceSum(View<float> buffer) { DeviceAllReduces++; Lengths.Add(buffer.Length); }
        public void AllReduceSum(Span<double> values) => HostAllReduces++;
        public void Broadcast(View<float> buffer, int root) => Broadcasts++;
        public void Barrier() => Barriers++;
        public bool AllAgree(long value) { Agreements++; return true; }
        public void Abort(int exitCode) { }
        public void Dispose() { }
    }

    /// <summary>One rank whose hash check always fails (as if another rank's weights differed).</summary>
    private sealed class DisagreeingCommunicator : ICommunicator
    {
        public int Rank => 0;
        public int Size => 1;
        public string Description => "disagreeing";
        public void AllReduceSum(View<float> buffer) { }
        public void AllReduceSum(Span<double> values) { }
        public void Broadcast(View<float> buffer, int root) { }
        public void Barrier() { }
        public bool AllAgree(long value) => false;
        public void Abort(int exitCode) { }
        public void Dispose() { }
    }
}
