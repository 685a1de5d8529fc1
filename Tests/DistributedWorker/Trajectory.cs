using System.Globalization;
using Engine.Data;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Training;

namespace Engine.DistributedWorker;

/// <summary>
/// The trajectory scenario: a small seeded problem (2 regression tasks that conflict, 1 classification), full batch, so
/// that one step of P ranks over their shards is one step over all rows. For each of sum, PCGrad and MGDA-UB every rank
/// trains data-parallel and writes its per-epoch losses and its final weights (bit patterns); rank 0 also trains the
/// same model in one process, without a communicator, as the reference.
/// </summary>
public static class Trajectory
{
    public const int Rows = 96, Inputs = 5, Epochs = 12;

    /// <summary>The trainer's seed in every run of this scenario (it fixes the shards).</summary>
    public const ulong Seed = 3;

    public static readonly (string Name, CombinationMethod Method)[] Methods =
        [("sum", CombinationMethod.Sum), ("pcgrad", CombinationMethod.PcGrad), ("mgda", CombinationMethod.Mgda)];

    public static void Run(ICommunicator c, Backend<float> backend, List<string> output)
    {
        var data = Problem();
        foreach (var (name, method) in Methods)
        {
            output.Add($"{name}.distributed: " + Train(backend, data, method, new DistributedOptions { Communicator = c, WeightCheckSteps = 5 }));
            if (c.Rank == 0) output.Add($"{name}.reference: " + Train(backend, data, method, null));
        }
        // Mini-batches over unequal shards (95 rows: 48 and 47; local batch 10: five steps, the last of 8 and 7 rows),
        // reshuffled every epoch: only the ranks' agreement is checked (the batches differ from a one-process run's).
        var odd = ShardData.Select(data, [.. Enumerable.Range(0, Rows - 1)]);
        output.Add("minibatch.distributed: " + Train(backend, odd, CombinationMethod.PcGrad, new DistributedOptions { Communicator = c, WeightCheckSteps = 2 }, batch: 20));
    }

    /// <summary>
    /// As <see cref="Run"/>, with labels missing unevenly per rank (2 ranks; the shard plan of the trainer's seed tells
    /// which rows each rank holds): task a keeps 30 % of rank 0's labels and all of rank 1's, task b has NO label on
    /// rank 0 and all on rank 1, class c misses every third row of rank 1 (plus the rows 0 and 1 wherever they are).
    /// Weighting the ranks by rows instead of labelled counts would halve task b's gradient.
    /// </summary>
    public static void Missing(ICommunicator c, Backend<float> backend, List<string> output)
    {
        var data = MissingLabels(c.Size);
        foreach (var (name, method) in Methods)
        {
            output.Add($"{name}.distributed: " + Train(backend, data, method, new DistributedOptions { Communicator = c, WeightCheckSteps = 5 }));
            if (c.Rank == 0) output.Add($"{name}.reference: " + Train(backend, data, method, null));
        }
        output.Add("minibatch.distributed: " + Train(backend, data, CombinationMethod.PcGrad, new DistributedOptions { Communicator = c, WeightCheckSteps = 2 }, batch: 20));
    }

    /// <summary>
    /// As <see cref="Missing"/>, with sample weights (maths §19.11) and class weights (1, 3, 0.5) on task c (§19.9): rank 0's
    /// rows weigh 0.25–0.75, rank 1's 1–4, so each rank's weight sums D⁽ʳ⁾ differ from its labelled counts and from the
    /// other rank's; the exchange weighs the ranks by D⁽ʳ⁾ (§20).
    /// </summary>
    public static void Weighted(ICommunicator c, Backend<float> backend, List<string> output)
    {
        var missing = MissingLabels(c.Size);
        var rank0 = new HashSet<int>(new RowShards(Rows, c.Size, RowShards.SeedFor(Seed)).RowsOf(0));
        var data = new TrainingData(missing.Inputs, Inputs, missing.Tasks,
            [.. Enumerable.Range(0, Rows).Select(i => rank0.Contains(i) ? 0.25f * (1 + i % 3) : 1f + i % 4)]);
        double[] classWeights = [1, 3, 0.5];
        foreach (var (name, method) in Methods)
        {
            output.Add($"{name}.distributed: " + Train(backend, data, method, new DistributedOptions { Communicator = c, WeightCheckSteps = 5 }, classWeights: classWeights));
            if (c.Rank == 0) output.Add($"{name}.reference: " + Train(backend, data, method, null, classWeights: classWeights));
        }
        output.Add("minibatch.distributed: " + Train(backend, data, CombinationMethod.PcGrad, new DistributedOptions { Communicator = c, WeightCheckSteps = 2 }, batch: 20, classWeights: classWeights));
        // Weighted validation (§19.11, §20): the same weighted rows as the validation set, each rank evaluating its block of
        // 48; the line carries the epochs' weighted validation losses, which early stopping (patience 3) watches on every rank.
        output.Add("validated.distributed: " + Train(backend, data, CombinationMethod.Sum, new DistributedOptions { Communicator = c, WeightCheckSteps = 5 },
            classWeights: classWeights, validation: data));
        if (c.Rank == 0) output.Add("validated.reference: " + Train(backend, data, CombinationMethod.Sum, null, classWeights: classWeights, validation: data));
    }

    /// <summary><see cref="Problem"/> with the labels of <see cref="Missing"/> removed (for <paramref name="ranks"/> = 2).</summary>
    public static TrainingData MissingLabels(int ranks)
    {
        var full = Problem();
        var shards = new RowShards(Rows, ranks, RowShards.SeedFor(Seed));
        var rank0 = new HashSet<int>(shards.RowsOf(0));
        var a = (float[])full.Tasks[0].Values!.Clone();
        var b = (float[])full.Tasks[1].Values!.Clone();
        var cls = (int[])full.Tasks[2].Classes!.Clone();
        var random = new Random(5);
        int seen1 = 0;
        for (int i = 0; i < Rows; i++)
        {
            if (rank0.Contains(i))
            {
                if (random.NextDouble() >= 0.3) a[i] = float.NaN;
                b[i] = float.NaN;
            }
            else if (seen1++ % 3 == 0) cls[i] = MissingLabel.Class;
        }
        cls[0] = cls[1] = MissingLabel.Class;
        return new TrainingData(full.Inputs, Inputs, [TaskData.Regression("a", a), TaskData.Regression("b", b), TaskData.Classification("c", cls, 3)]);
    }

    /// <summary>The last rank throws after its second epoch while the others go on into the third epoch's all-reduce:
    /// without the abort they would wait there forever.</summary>
    public static void FailOnLastRank(ICommunicator c, Backend<float> backend)
    {
        var spec = new ModelSpec(Inputs, [12], [TaskHead.Regression("a"), TaskHead.Regression("b")]) { Seed = 7 };
        using var model = MultiTaskModel.Create(spec, backend);
        var progress = new Progress(e => { if (e.Epoch == 2 && c.Rank == c.Size - 1) throw new InvalidOperationException("injected failure after epoch 2"); });
        var all = Problem();
        var regressions = new TrainingData(all.Inputs, Inputs, [all.Tasks[0], all.Tasks[1]]);
        new Trainer(new TrainerOptions { Epochs = 1000, BatchSize = 0, Distributed = new DistributedOptions { Communicator = c } })
            .Fit(model, regressions, progress: progress);
    }

    private sealed class Progress(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => report(value);
    }

    /// <summary>"loss1 loss2 … | w1 w2 …": the epochs' training losses Σλᵢ Lᵢ (with <paramref name="validation"/>: the
    /// validation losses, early stopping with patience 3 watching them), then every weight's bits (hex).</summary>
    private static string Train(Backend<float> backend, TrainingData data, CombinationMethod method, DistributedOptions? distributed, int batch = 0,
        double[]? classWeights = null, TrainingData? validation = null)
    {
        var spec = new ModelSpec(Inputs, [12], [TaskHead.Regression("a", 1), TaskHead.Regression("b", 1), new TaskHead("c", TaskKind.Classification, 3) { ClassWeights = classWeights }])
        { Seed = 7 };
        using var model = MultiTaskModel.Create(spec, backend);
        var options = new TrainerOptions
        {
            Epochs = Epochs,
            BatchSize = batch,
            Seed = Seed,
            Step = new StepOptions { Combination = method, LearningRate = 0.02, CombinationSeed = 5 },
            Distributed = distributed,
            EarlyStoppingPatience = validation is null ? null : 3,
        };
        var result = new Trainer(options).Fit(model, data, validation);
        return Line(result, validation is not null, backend.ToArray(model.Parameters.Values));
    }

    /// <summary>A scenario's line: the epochs' training losses (<paramref name="validated"/>: validation losses), then
    /// every weight's bits (hex).</summary>
    public static string Line(TrainingResult result, bool validated, float[] weights)
    {
        var losses = string.Join(' ', result.History.Select(e => (validated ? e.ValidationLoss!.Value : e.TrainLoss).ToString("R", CultureInfo.InvariantCulture)));
        return losses + " | " + string.Join(' ', weights.Select(w => BitConverter.SingleToInt32Bits(w).ToString("X8", CultureInfo.InvariantCulture)));
    }

    /// <summary>Seeded rows: a = x·u + noise, b = −a + x₄ (its gradient conflicts with a's), c = the argmax of 3 linear scores.</summary>
    public static TrainingData Problem()
    {
        var random = new Random(11);
        var x = new float[Rows * Inputs];
        var a = new float[Rows];
        var b = new float[Rows];
        var cls = new int[Rows];
        for (int i = 0; i < Rows; i++)
        {
            for (int j = 0; j < Inputs; j++) x[i * Inputs + j] = (float)(random.NextDouble() * 2 - 1);
            var r = x.AsSpan(i * Inputs, Inputs);
            a[i] = 0.8f * r[0] - 0.5f * r[1] + 0.3f * r[2] + (float)(0.05 * (random.NextDouble() - 0.5));
            b[i] = -a[i] + 0.6f * r[4];
            float s0 = r[0] + r[3], s1 = r[1] - r[2], s2 = 0.5f * r[4];
            cls[i] = s0 >= s1 && s0 >= s2 ? 0 : s1 >= s2 ? 1 : 2;
        }
        return new TrainingData(x, Inputs, [TaskData.Regression("a", a), TaskData.Regression("b", b), TaskData.Classification("c", cls, 3)]);
    }
}
