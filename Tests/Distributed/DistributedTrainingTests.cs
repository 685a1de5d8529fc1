using System.Globalization;
using Engine.Tests.Data;

namespace Engine.Tests.Distributed;

/// <summary>
/// Data-parallel training under <c>mpirun -np 2</c> (one launch of Tests/DistributedWorker, scenario "trajectory"):
/// for sum, PCGrad and MGDA-UB, two ranks over half of the rows each (full batch) follow the one-process run over all
/// rows, and the two ranks' weights are bit-identical; so are they for mini-batches over unequal shards.
/// <para>Tolerance (float32 reduction order): a rank's gradient is (1/n_r)Σ over its rows, scaled by n_r/n and summed
/// over ranks, against (1/n)Σ over all rows in one pass: the same sum in another order, a few ulps per element
/// (relative ~n·2⁻²⁴ at worst). Over 12 Adam steps the training losses stay within 1e-5 relative and the weights within
/// 2e-5 absolute (measured: 2e-7 and 2.2e-6, MGDA the largest).</para>
/// </summary>
public sealed class DistributedTrainingTests
{
    private const double LossTolerance = 1e-5, WeightTolerance = 2e-5;

    [Fact]
    public void Two_ranks_over_half_batches_follow_one_rank_over_the_full_batch_with_identical_weights() =>
        FollowsOneRank("trajectory", LossTolerance, WeightTolerance);

    /// <summary>Labels missing unevenly per rank (Trajectory.Missing: task b has no label on rank 0, task a 30 % there,
    /// class c misses a third of rank 1's): each task's global gradient is Σᵣ nₜ⁽ʳ⁾gₜ⁽ʳ⁾ / Σᵣ nₜ⁽ʳ⁾ (labelled counts
    /// sent in the step's one buffer, divided after the sum). Same tolerances as with every label: the weighting adds one
    /// multiplication by an integer count and one exact division, a rounding or two per element.</summary>
    [Fact]
    public void Two_ranks_with_labels_missing_unevenly_follow_one_rank_over_the_full_batch_with_identical_weights() =>
        FollowsOneRank("missing", LossTolerance, WeightTolerance);

    /// <summary>Sample weights and class weights (Trajectory.Weighted: the missing labels above, rank 0's rows weighing
    /// 0.25–0.75 and rank 1's 1–4, class weights 1, 3, 0.5): each task's global gradient is Σᵣ Dₜ⁽ʳ⁾gₜ⁽ʳ⁾ / Σᵣ Dₜ⁽ʳ⁾ with
    /// the weight sums D (maths §20). Same tolerances: a multiplication by Dₜ⁽ʳ⁾ (no longer an integer: one rounding) and
    /// one division per element. Then weighted validation (the same rows, a block of 48 per rank; early stopping with
    /// patience 3): the two ranks' validation losses are identical, equal the one-process ones within the same 1e-5, and
    /// the ranks end with identical weights.</summary>
    [Fact]
    public void Two_weighted_ranks_with_unequal_weight_sums_follow_one_rank_over_the_full_batch_with_identical_weights() =>
        FollowsOneRank("weighted", LossTolerance, WeightTolerance);

    /// <summary>Ordered tasks (maths §17.6, §17.7; DistributedWorker/GraphTrajectory.cs): the tower graph (ctr, cvr labelled
    /// on the clicked rows only — 80 % clicks on rank 0's rows, 20 % on rank 1's —, ctcvr = ctr·cvr, dwell reading σ(z_ctr))
    /// on MMoE for sum, PCGrad and MGDA: the per-task rows of the shared block, the factors' towers included, are
    /// all-reduced with the labelled counts before the combiner; then ESMM (cvr without a loss, a fifth of the labels
    /// missing) on the shared bottom with validation and early stopping. Same tolerances as the plain model.</summary>
    [Fact]
    public void Two_ranks_training_ordered_tasks_follow_one_rank_over_the_full_batch_with_identical_weights() =>
        FollowsOneRank("graph", LossTolerance, WeightTolerance);

    private static void FollowsOneRank(string scenario, double lossTolerance, double weightTolerance)
    {
        using var dir = new TempDirectory();
        var run = MpiRun.Run(2, MpiRun.Worker, [scenario, dir.Path]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var rank0 = Parse(dir.File_("rank0.txt"));
        var rank1 = Parse(dir.File_("rank1.txt"));
        foreach (var method in new[] { "sum", "pcgrad", "mgda" })
        {
            var (losses, weights, bits) = rank0[$"{method}.distributed"];
            Assert.Equal(bits, rank1[$"{method}.distributed"].Bits);               // bit-identical on both ranks
            var (refLosses, refWeights, _) = rank0[$"{method}.reference"];
            Assert.Equal(12, losses.Length);
            Assert.True(losses[^1] < 0.9 * losses[0], $"{method}: training did not lower the loss ({losses[0]} → {losses[^1]})");
            for (int e = 0; e < losses.Length; e++)
                Assert.True(Math.Abs(losses[e] - refLosses[e]) <= lossTolerance * Math.Abs(refLosses[e]),
                    $"{method}, epoch {e + 1}: two ranks {losses[e]:R}, one rank {refLosses[e]:R}");
            Assert.Equal(refWeights.Length, weights.Length);
            for (int i = 0; i < weights.Length; i++)
                Assert.True(Math.Abs(weights[i] - refWeights[i]) <= weightTolerance, $"{method}, weight {i}: {weights[i]:R} vs {refWeights[i]:R}");
        }
        var minibatch = rank0["minibatch.distributed"];
        Assert.Equal(minibatch.Bits, rank1["minibatch.distributed"].Bits);
        Assert.True(minibatch.Losses[^1] < minibatch.Losses[0]);
        if (scenario is "weighted" or "graph")   // validation watched by early stopping
        {
            var validated = rank0["validated.distributed"];
            Assert.Equal(validated.Bits, rank1["validated.distributed"].Bits);   // same epochs, same best weights restored
            Assert.Equal(validated.Losses, rank1["validated.distributed"].Losses);
            var reference = rank0["validated.reference"].Losses;
            Assert.Equal(reference.Length, validated.Losses.Length);
            for (int e = 0; e < reference.Length; e++)
                Assert.True(Math.Abs(validated.Losses[e] - reference[e]) <= lossTolerance * Math.Abs(reference[e]),
                    $"weighted validation, epoch {e + 1}: two ranks {validated.Losses[e]:R}, one rank {reference[e]:R}");
        }
    }

    private static Dictionary<string, (double[] Losses, float[] Weights, string Bits)> Parse(string path) =>
        File.ReadAllLines(path).ToDictionary(l => l[..l.IndexOf(':')], l =>
        {
            var parts = l[(l.IndexOf(':') + 2)..].Split(" | ");
            var losses = parts[0].Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var weights = parts[1].Split(' ').Select(h => BitConverter.Int32BitsToSingle(int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture))).ToArray();
            return (losses, weights, parts[1]);
        });
}

/// <summary>How a data-parallel job ends when one rank fails, and <c>mpirun -np 2 mtl train --distributed mpi</c>.</summary>
public sealed class MpiLaunchTests
{
    [Fact]
    public void A_rank_that_fails_ends_the_job_with_its_message_instead_of_a_hang()
    {
        using var dir = new TempDirectory();
        var run = MpiRun.Run(2, MpiRun.Worker, ["fail", dir.Path], timeoutSeconds: 90);
        Assert.False(run.TimedOut, run.ToString());                          // the other rank did not wait forever
        Assert.True(run.ExitCode == 5, run.ToString());                       // the failing rank's code, through MPI_Abort
        Assert.Contains("mtl: error: rank 1 of 2: injected failure after epoch 2", run.Error);
    }

    [Fact]
    public void Mtl_train_distributed_on_two_ranks_prints_and_writes_on_rank_0_only()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("synthetic.csv", Engine.Tests.Cli.Mtl.SyntheticCsv(rows: 120));
        string report = dir.File_("run.json"), model = dir.File_("model.safetensors");
        var run = MpiRun.Run(2, MpiRun.Mtl, ["train", "--distributed", "mpi", "--data", csv, "--regression", "y", "--classification", "label",
            "--categorical", "shade", "--epochs", "30", "--batch-size", "16", "--test", "0.25", "--validation", "0.1", "--patience", "50",
            "--report", report, "--save", model]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Error, "Distributed: Open MPI .*, rank 0 of 2"));
        Assert.DoesNotContain("rank 1 of 2", run.Error);                      // rank 1 printed nothing
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Output, @"│ y\s+│ test"));   // one table
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        Assert.Equal("mpi", json.RootElement.GetProperty("settings").GetProperty("distributed").GetString());
        var history = json.RootElement.GetProperty("history");
        Assert.Equal(30, history.GetArrayLength());
        Assert.True(history[29].GetProperty("trainLoss").GetDouble() < 0.5 * history[0].GetProperty("trainLoss").GetDouble(), run.ToString());
        Assert.True(File.Exists(model));
    }

    /// <summary>Ordered tasks from the command line (<c>--task-product</c>, <c>--no-loss</c>, <c>--task-input</c>; maths §17.6,
    /// §17.7, §20) on ESMM's click table (<see cref="Engine.Tests.Cli.EsmmCliTests.ClickCsv"/>: conversion labelled on the
    /// clicked rows only, so the step takes the count-weighted per-task path with the --no-loss factor's row 0), the
    /// conversion tower also reading pCTR, on MMoE: <c>mpirun -np 2 mtl train --distributed mpi</c> with the whole split
    /// as the batch (<c>--batch-size 0</c>) and a validation split watched by early stopping equals one process's
    /// <c>mtl train</c> of the same flags — every epoch's training and validation loss within 1e-5 relative, the same
    /// epochs run — and the ranks agreed (the weight hash is compared after every epoch: a drift would end the run).</summary>
    [Fact]
    public void Mtl_train_distributed_trains_ordered_tasks_as_one_process_does()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("clicks.csv", Engine.Tests.Cli.EsmmCliTests.ClickCsv(rows: 160));
        string[] flags = ["train", "--data", csv, "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion", "--no-loss", "conversion",
            "--task-input", "conversion=click", "--arch", "mmoe", "--experts", "3", "--expert-hidden", "8", "--tower", "6", "--epochs", "15", "--batch-size", "0",
            "--seed", "5", "--test", "0.2", "--validation", "0.2", "--patience", "3"];
        string distributedReport = dir.File_("distributed.json"), report = dir.File_("one.json");
        var run = MpiRun.Run(2, MpiRun.Mtl, [.. flags, "--distributed", "mpi", "--report", distributedReport]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var one = Engine.Tests.Cli.Mtl.Run([.. flags, "--report", report]);
        Assert.True(one.ExitCode == 0, one.ToString());
        using var ranks = System.Text.Json.JsonDocument.Parse(File.ReadAllText(distributedReport));
        using var reference = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        var (history, expected) = (ranks.RootElement.GetProperty("history"), reference.RootElement.GetProperty("history"));
        Assert.Equal(expected.GetArrayLength(), history.GetArrayLength());
        for (int e = 0; e < expected.GetArrayLength(); e++)
            foreach (var key in new[] { "trainLoss", "validationLoss" })
            {
                double x = expected[e].GetProperty(key).GetDouble(), y = history[e].GetProperty(key).GetDouble();
                Assert.True(Math.Abs(x - y) <= 1e-5 * Math.Abs(x), $"epoch {e + 1} {key}: two ranks {y:R}, one process {x:R}");
            }
        Assert.True(history[history.GetArrayLength() - 1].GetProperty("trainLoss").GetDouble() < history[0].GetProperty("trainLoss").GetDouble(), run.ToString());
    }

    /// <summary><c>--weight-column</c> and <c>--class-weights</c> with <c>--distributed mpi</c> (maths §20): trains on two
    /// ranks, with <c>--validation 0</c> and with a weighted validation split watched by early stopping (each rank evaluates
    /// its block; the weighted sums and masses are all-reduced, so every rank stops at the same epoch: the run ends, and
    /// the report's validation losses are finite and weighted).</summary>
    [Fact]
    public void Mtl_train_distributed_trains_and_validates_with_sample_and_class_weights()
    {
        using var dir = new TempDirectory();
        var lines = Engine.Tests.Cli.Mtl.SyntheticCsv(rows: 120).TrimEnd('\n').Split('\n');
        var csv = dir.Write("weighted.csv", string.Join('\n', lines.Select((l, i) => l + (i == 0 ? ",w" : $",{1 + i % 3}"))) + "\n");
        string report = dir.File_("run.json");
        string[] train = ["train", "--distributed", "mpi", "--data", csv, "--regression", "y", "--classification", "label", "--categorical", "shade",
            "--weight-column", "w", "--class-weights", "label:1,2", "--epochs", "20", "--batch-size", "16", "--test", "0.25"];
        var run = MpiRun.Run(2, MpiRun.Mtl, [.. train, "--validation", "0", "--report", report]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report)))
        {
            var history = json.RootElement.GetProperty("history");
            Assert.Equal(20, history.GetArrayLength());
            Assert.True(history[19].GetProperty("trainLoss").GetDouble() < 0.5 * history[0].GetProperty("trainLoss").GetDouble(), run.ToString());
        }

        string validated = dir.File_("validated.json");
        var withValidation = MpiRun.Run(2, MpiRun.Mtl, [.. train, "--validation", "0.2", "--patience", "3", "--report", validated]);
        Assert.True(withValidation.ExitCode == 0, withValidation.ToString());
        using var report2 = System.Text.Json.JsonDocument.Parse(File.ReadAllText(validated));
        var epochs = report2.RootElement.GetProperty("history");
        Assert.True(epochs.GetArrayLength() is > 0 and <= 20);
        foreach (var epoch in epochs.EnumerateArray())
            Assert.True(double.IsFinite(epoch.GetProperty("validationLoss").GetDouble()), withValidation.ToString());
    }
}
