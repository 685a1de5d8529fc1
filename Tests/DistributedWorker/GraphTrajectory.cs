using Engine.Distributed;
using Engine.Kernels;
using Engine.Training;

namespace Engine.DistributedWorker;

/// <summary>
/// Ordered tasks (docs/maths.md §17.6, §17.7) trained data-parallel (§20): the models and seeded impressions of the
/// "graph" scenario, shared with the in-process rank tests (Tests/Distributed/DistributedGraphTests.cs).
/// <para>Graphs: <b>esmm</b> — ctr, cvr without a loss and without a column, ctcvr = ctr·cvr, every row labelled;
/// <b>esmm-missing</b> — the same with every fifth row's click and ctcvr labels missing; <b>tower</b> — ctr, cvr with its
/// own loss on the clicked rows, ctcvr = ctr·cvr and dwell (regression) whose tower reads [h | σ(z_ctr)], task weights
/// 0.7, 1.3, 0.4, 0.9. Trunk (or experts) 4 → 6, towers of 5; MMoE with 3 experts.</para>
/// </summary>
public static class GraphTrajectory
{
    public const int Features = 4, Hidden = 6, Tower = 5;

    private static readonly double[] Lambda = [0.7, 1.3, 0.4, 0.9];

    /// <summary>The model of <paramref name="graph"/> on <paramref name="arch"/> ("shared-bottom", "mmoe" or "dselect-k").</summary>
    public static ModelSpec Spec(string arch, string graph)
    {
        bool tower = graph == "tower";
        TaskHead[] heads = tower
            ? [TaskHead.Binary("ctr") with { LossWeight = Lambda[0] }, TaskHead.Binary("cvr") with { LossWeight = Lambda[1] },
               TaskHead.Binary("ctcvr") with { LossWeight = Lambda[2] }, TaskHead.Regression("dwell") with { LossWeight = Lambda[3] }]
            : [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr")];
        return new(Features, [Hidden], heads)
        {
            Architecture = arch switch
            {
                "shared-bottom" => null,
                "mmoe" => new MmoeArchitecture(Experts: 3),
                "dselect-k" => new DSelectKArchitecture(Experts: 4, TopK: 2),
                _ => throw new ArgumentException($"unknown architecture '{arch}'", nameof(arch)),
            },
            Tower = [Tower],
            Graph = tower
                ? new TaskGraph
                {
                    Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "cvr"] },
                    Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"] },
                }
                : TaskGraph.Esmm("ctcvr", "ctr", "cvr"),
            Seed = 17,
        };
    }

    /// <summary>Seeded impressions x ∈ [−1, 1]⁴. With <paramref name="ranks"/> ≥ 2, the rows that the trainer's shard plan
    /// (<paramref name="trainerSeed"/>) gives rank r are clicked with probability 0.8 − 0.6·r/(ranks − 1) (0.8 on rank 0,
    /// 0.2 on the last), so the ranks' labelled counts of cvr differ widely; otherwise 0.5. Conversion given a click ~
    /// Bernoulli(σ(2(x₂ − x₃))), labelled only on the clicked rows; ctcvr = click AND conversion; dwell = 0.5x₀ − x₃ + noise.</summary>
    public static TrainingData Data(string graph, int rows, int seed, int ranks, ulong trainerSeed)
    {
        const int F = Features;
        var random = new Random(seed);
        var rankOf = new int[rows];
        if (ranks >= 2)
        {
            var shards = new RowShards(rows, ranks, RowShards.SeedFor(trainerSeed));
            for (int r = 0; r < ranks; r++) foreach (int i in shards.RowsOf(r)) rankOf[i] = r;
        }
        var x = new float[rows * F];
        int[] ctr = new int[rows], cvr = new int[rows], ctcvr = new int[rows];
        var dwell = new float[rows];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < F; j++) x[i * F + j] = (float)(2 * random.NextDouble() - 1);
            double p = ranks >= 2 ? 0.8 - 0.6 * rankOf[i] / (ranks - 1) : 0.5;
            bool click = random.NextDouble() < p;
            bool convert = random.NextDouble() < 1 / (1 + Math.Exp(-2 * (x[i * F + 2] - x[i * F + 3])));
            ctr[i] = click ? 1 : 0;
            cvr[i] = click ? (convert ? 1 : 0) : MissingLabel.Class;
            ctcvr[i] = click && convert ? 1 : 0;
            dwell[i] = 0.5f * x[i * F] - x[i * F + 3] + (float)(0.1 * (random.NextDouble() - 0.5));
            if (graph == "esmm-missing" && i % 5 == 2) ctr[i] = ctcvr[i] = MissingLabel.Class;
        }
        return graph == "tower"
            ? new TrainingData(x, F, [TaskData.Binary("ctr", ctr), TaskData.Binary("cvr", cvr), TaskData.Binary("ctcvr", ctcvr), TaskData.Regression("dwell", dwell)])
            : new TrainingData(x, F, [TaskData.Binary("ctr", ctr), TaskData.Binary("ctcvr", ctcvr)]);
    }

    /// <summary>The "graph" scenario (2 ranks under mpirun, full batch, <see cref="Trajectory.Epochs"/> Adam epochs): the
    /// tower graph on MMoE for sum, PCGrad and MGDA (per-task rows of the shared block with the factors' blocks all-reduced),
    /// then mini-batches (PCGrad, batch 20: only the ranks' agreement is checked), then ESMM with cvr without a loss and
    /// labels missing on the shared bottom, with a validation set watched by early stopping (patience 3). Lines as
    /// <see cref="Trajectory"/> writes them; rank 0 also trains each in one process as the reference.</summary>
    public static void Run(ICommunicator c, Backend<float> backend, List<string> output)
    {
        var data = Data("tower", Trajectory.Rows, seed: 5, c.Size, Trajectory.Seed);
        foreach (var (name, method) in Trajectory.Methods)
        {
            output.Add($"{name}.distributed: " + Train(backend, "mmoe", "tower", data, method, new DistributedOptions { Communicator = c, WeightCheckSteps = 5 }));
            if (c.Rank == 0) output.Add($"{name}.reference: " + Train(backend, "mmoe", "tower", data, method, null));
        }
        output.Add("minibatch.distributed: " + Train(backend, "mmoe", "tower", data, CombinationMethod.PcGrad, new DistributedOptions { Communicator = c, WeightCheckSteps = 2 }, batch: 20));
        var esmm = Data("esmm-missing", Trajectory.Rows, seed: 7, c.Size, Trajectory.Seed);
        var validation = Data("esmm-missing", 40, seed: 8, 1, Trajectory.Seed);
        output.Add("validated.distributed: " + Train(backend, "shared-bottom", "esmm-missing", esmm, CombinationMethod.Sum,
            new DistributedOptions { Communicator = c, WeightCheckSteps = 5 }, validation: validation));
        if (c.Rank == 0) output.Add("validated.reference: " + Train(backend, "shared-bottom", "esmm-missing", esmm, CombinationMethod.Sum, null, validation: validation));
    }

    private static string Train(Backend<float> backend, string arch, string graph, TrainingData data, CombinationMethod method, DistributedOptions? distributed,
        int batch = 0, TrainingData? validation = null)
    {
        using var model = MultiTaskModel.Create(Spec(arch, graph), backend);
        var result = new Trainer(new TrainerOptions
        {
            Epochs = Trajectory.Epochs, BatchSize = batch, Seed = Trajectory.Seed, Distributed = distributed,
            EarlyStoppingPatience = validation is null ? null : 3,
            Step = new StepOptions { Combination = method, LearningRate = 0.05, CombinationSeed = 5 },
        }).Fit(model, data, validation);
        return Trajectory.Line(result, validation is not null, backend.ToArray(model.Parameters.Values));
    }
}
