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
    [InlineData(CombinationMethod.Sum, WeightingMethod.Static)]
    [InlineData(CombinationMethod.Sum, WeightingMethod.Uncertainty)]
    [InlineData(CombinationMethod.Sum, WeightingMethod.LossBalanced)]   // per-task path on data-parallel runs
    [InlineData(CombinationMethod.PcGrad, WeightingMethod.Static)]
    public void A_warm_data_parallel_step_allocates_nothing(CombinationMethod combination, WeightingMethod weighting)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, Weighting = weighting, MaxGradNorm = 1.0 }, 16,
            communicator: SingleProcessCommunicator.Instance);
        Assert.True(step.ExchangedFloats > model.TaskCount);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16, globalRows: 32);      // share ½: the scale launch runs too

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16, globalRows: 32);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
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
