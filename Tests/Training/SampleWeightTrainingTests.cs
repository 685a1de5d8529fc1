using Engine.Tests.Infrastructure;
using Engine.Kernels;
using Engine.Data;
using Engine.Distributed;
using Engine.Kernels.Cpu;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Sample weights in training and evaluation (maths §19.11, issue #14): each task's loss is Σ sᵣmᵣℓᵣ / Σ sᵣmᵣ over the
/// batch's labelled rows. The properties that define it, on a model with a regression (missing targets), a 3-class
/// classification, a binary and a 2-label multi-label task (missing labels in each):
/// integer weights train exactly as the rows written that many times, with the regression's loss MSE, L1 or Huber (full
/// batch, SGD; float32, summed in another order: max |Δθ| ≤ 2e-6 after 3 steps); weights ≡ 1 train as no weights (≤ 1e-6, mini-batches shuffled alike); a row of
/// weight 0 has no influence (its targets changed: bit-identical parameters; the row removed: ≤ 2e-6); a batch whose rows
/// all weigh 0 gives loss 0 and an exactly zero gradient; the evaluation metrics equal those of the duplicated rows; and
/// an ESMM product task trains with integer weights as with the rows duplicated; the training on the ILGPU kernels
/// (ILGPU-CPU) matches the CPU path; a data-parallel run trains and validates weighted data.
/// </summary>
public class SampleWeightTrainingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ModelSpec Spec(RegressionLoss? loss = null) => new(4, [8],
    [
        TaskHead.Regression("r") with { Loss = loss }, TaskHead.Classification("c", 3), TaskHead.Binary("b"), TaskHead.MultiLabel("m", 2),
    ]) { Seed = 5 };

    /// <summary>Row i: 4 inputs in [−1, 1]; r missing on every 7th row, c on every 5th, b on every 6th, m's second label on every 4th.</summary>
    private static (float[] X, float[] R, int[] C, int[] B, int[] M) Columns(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var r = new float[rows];
        var c = new int[rows];
        var b = new int[rows];
        var m = new int[rows * 2];
        for (int i = 0; i < rows; i++)
        {
            float x0 = x[4 * i], x1 = x[4 * i + 1], x2 = x[4 * i + 2], x3 = x[4 * i + 3];
            r[i] = i % 7 == 3 ? float.NaN : x0 - 2 * x1 + 0.5f;
            c[i] = i % 5 == 4 ? MissingLabel.Class : x2 > 0.3f ? 2 : x2 > -0.3f ? 1 : 0;
            b[i] = i % 6 == 1 ? MissingLabel.Class : x3 > 0 ? 1 : 0;
            m[2 * i] = x0 + x3 > 0 ? 1 : 0;
            m[2 * i + 1] = i % 4 == 2 ? MissingLabel.Class : x1 > 0 ? 1 : 0;
        }
        return (x, r, c, b, m);
    }

    private static TrainingData Data((float[] X, float[] R, int[] C, int[] B, int[] M) d, float[]? weights = null) =>
        new(d.X, 4, [TaskData.Regression("r", d.R), TaskData.Classification("c", d.C, 3), TaskData.Binary("b", d.B), TaskData.MultiLabel("m", d.M, 2)], weights);

    /// <summary>The rows of <paramref name="d"/> in order, row i written <paramref name="times"/>[i] times.</summary>
    private static (float[], float[], int[], int[], int[]) Repeat((float[] X, float[] R, int[] C, int[] B, int[] M) d, int[] times)
    {
        var rows = Enumerable.Range(0, times.Length).SelectMany(i => Enumerable.Repeat(i, times[i])).ToArray();
        return ([.. rows.SelectMany(i => d.X.Skip(4 * i).Take(4))], [.. rows.Select(i => d.R[i])], [.. rows.Select(i => d.C[i])],
            [.. rows.Select(i => d.B[i])], [.. rows.SelectMany(i => d.M.Skip(2 * i).Take(2))]);
    }

    private static readonly StepOptions Sgd = new() { Optimizer = OptimizerKind.Sgd, LearningRate = 0.2 };

    private static (double[] Parameters, TrainingResult Result) Train(TrainingData data, int epochs, int batch = 0, StepOptions? step = null,
        RegressionLoss? loss = null)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(loss), cpu);
        var result = new Trainer(new TrainerOptions { Epochs = epochs, BatchSize = batch, Step = step ?? Sgd }).Fit(model, data, cancellationToken: Ct);
        return (Array.ConvertAll(cpu.ToArray(model.Parameters.Values), v => (double)v), result);
    }

    private static double MaxDifference(double[] a, double[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));

    /// <summary>The regression task with each of its losses: MSE, L1, Huber(0.5).</summary>
    [Theory]
    [InlineData("mse")]
    [InlineData("l1")]
    [InlineData("huber:0.5")]
    public void Integer_weights_train_as_the_rows_duplicated(string regressionLoss)
    {
        var loss = RegressionLoss.Parse(regressionLoss);
        var d = Columns(40, 1);
        var times = Enumerable.Range(0, 40).Select(i => 1 + i % 3).ToArray();   // weights 1, 2, 3
        var (weighted, weightedRun) = Train(Data(d, Array.ConvertAll(times, t => (float)t)), epochs: 3, loss: loss);
        var (duplicated, duplicatedRun) = Train(Data(Repeat(d, times)), epochs: 3, loss: loss);
        double moved = MaxDifference(weighted, Train(Data(d), epochs: 3, loss: loss).Parameters);
        Assert.True(moved > 1e-3, $"the weights must change the training (max |Δθ| = {moved:G3} against unweighted)");
        Assert.True(MaxDifference(weighted, duplicated) <= 2e-6, $"max |Δθ| = {MaxDifference(weighted, duplicated):G3}");
        for (int t = 0; t < 4; t++)   // the epoch's training loss: the weighted mean, the duplicated rows' mean
            Assert.Equal(duplicatedRun.History[^1].Train[t].Loss, weightedRun.History[^1].Train[t].Loss, 2e-6);
        for (int t = 0; t < 4; t++)   // the first epoch's running RMSE, MAE and accuracy (one step, the same θ): weighted alike
        {
            var (w, u) = (weightedRun.History[0].Train[t], duplicatedRun.History[0].Train[t]);
            Assert.True(w.Weighted, w.Task);
            Assert.Equal(u.Rmse ?? -1, w.Rmse ?? -1, 1e-5);
            Assert.Equal(u.Mae ?? -1, w.Mae ?? -1, 1e-5);
            Assert.Equal(u.Accuracy ?? -1, w.Accuracy ?? -1, 1e-6);
        }
    }

    /// <summary>The per-epoch training RMSE, MAE and accuracy (the step's device running sums, read once per epoch) are
    /// weighted by the rows' sample weights (some 0) on cpu and ilgpu-cpu: one full-batch epoch is one step, whose sums are
    /// those of the outputs before its update, so they equal the float64 weighted metrics of the model's predictions before
    /// the fit (<see cref="Engine.Metrics.WeightedMetrics"/>; rtol 1e-5: float32 sums on the device) and differ from the
    /// unweighted ones.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_epoch_training_metrics_are_weighted_by_row(string device)
    {
        const int rows = 50;
        var d = Columns(rows, 11);
        var weights = Enumerable.Range(0, rows).Select(i => i % 7 == 0 ? 0f : 0.25f + i * 37 % 11 / 4f).ToArray();
        var data = Data(d, weights);
        var backend = TestDevices.Get(device);
        using var model = MultiTaskModel.Create(Spec(), backend);
        var before = model.Predict(data.Inputs, data.Rows);
        var train = new Trainer(new TrainerOptions { Epochs = 1, BatchSize = 0, Step = Sgd }).Fit(model, data, cancellationToken: Ct).History[0].Train;
        var ones = Enumerable.Repeat(1f, rows).ToArray();

        var (rmse, mae) = Engine.Metrics.WeightedMetrics.Regression(before["r"].Values, d.R, 1, weights);
        Assert.True(train[0].Weighted);
        Assert.Equal(rmse!.Value, train[0].Rmse!.Value, 1e-5 * rmse.Value);
        Assert.Equal(mae!.Value, train[0].Mae!.Value, 1e-5 * mae.Value);
        var (plainRmse, _) = Engine.Metrics.WeightedMetrics.Regression(before["r"].Values, d.R, 1, ones);
        Assert.True(Math.Abs(plainRmse!.Value - rmse.Value) > 1e-3, "the weights must change the RMSE");

        var logits = before["c"].Values;
        var classes = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, 3).Aggregate((a, b) => logits[r * 3 + b] > logits[r * 3 + a] ? b : a)).ToArray();
        int[] Decisions(string task) => Array.ConvertAll(before[task].Values, z => z > 0 ? 1 : 0);
        foreach (var (t, predicted, labels, k) in new[] { (1, classes, d.C, 1), (2, Decisions("b"), d.B, 1), (3, Decisions("m"), d.M, 2) })
        {
            double expected = Engine.Metrics.WeightedMetrics.Accuracy(predicted, labels, k, weights)!.Value;
            Assert.True(train[t].Weighted, train[t].Task);
            Assert.Equal(expected, train[t].Accuracy!.Value, 1e-6);
            Assert.True(Math.Abs(expected - Engine.Metrics.WeightedMetrics.Accuracy(predicted, labels, k, ones)!.Value) > 1e-4, $"{train[t].Task}: the weights must change the accuracy");
        }
    }

    /// <summary>ESMM (§17.6): the product task ctcvr = ctr·cvr trains with the weighted BCE of probabilities (§19.7), cvr has
    /// no loss. Integer weights against the rows duplicated: 3 full-batch SGD epochs, max |Δθ| ≤ 2e-6.</summary>
    [Fact]
    public void A_product_task_trains_with_integer_weights_as_the_rows_duplicated()
    {
        var spec = new ModelSpec(4, [6], [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr")])
        {
            Tower = [5], Graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr"), Seed = 9,
        };
        var d = Columns(30, 10);
        var click = d.B.Select(b => b < 0 ? 0 : b).ToArray();
        var conversion = Enumerable.Range(0, 30).Select(i => click[i] == 1 && d.X[4 * i] > 0 ? 1 : 0).ToArray();
        var times = Enumerable.Range(0, 30).Select(i => 1 + i % 3).ToArray();
        var rows = Enumerable.Range(0, 30).SelectMany(i => Enumerable.Repeat(i, times[i])).ToArray();
        TrainingData Esmm(int[] r, float[]? w) => new([.. r.SelectMany(i => d.X.Skip(4 * i).Take(4))], 4,
            [TaskData.Binary("ctr", [.. r.Select(i => click[i])]), TaskData.Binary("ctcvr", [.. r.Select(i => conversion[i])])], w);
        double[] Fit(TrainingData data)
        {
            var cpu = new CpuBackend<float>();
            using var model = MultiTaskModel.Create(spec, cpu);
            new Trainer(new TrainerOptions { Epochs = 3, BatchSize = 0, Step = Sgd }).Fit(model, data, cancellationToken: Ct);   // full batch
            return Array.ConvertAll(cpu.ToArray(model.Parameters.Values), v => (double)v);
        }
        var all = Enumerable.Range(0, 30).ToArray();
        var weighted = Fit(Esmm(all, Array.ConvertAll(times, t => (float)t)));
        Assert.True(MaxDifference(weighted, Fit(Esmm(all, null))) > 1e-3, "the weights must change the training");
        Assert.True(MaxDifference(weighted, Fit(Esmm(rows, null))) <= 2e-6, $"max |Δθ| = {MaxDifference(weighted, Fit(Esmm(rows, null))):G3}");
    }

    [Fact]
    public void Weights_of_one_train_as_no_weights()
    {
        var d = Columns(64, 2);
        var options = new StepOptions { LearningRate = 0.01 };   // Adam, shuffled mini-batches of 16 (the weights move with their rows)
        var (ones, _) = Train(Data(d, [.. Enumerable.Repeat(1f, 64)]), epochs: 3, batch: 16, options);
        var (plain, _) = Train(Data(d), epochs: 3, batch: 16, options);
        Assert.True(MaxDifference(ones, plain) <= 1e-6, $"max |Δθ| = {MaxDifference(ones, plain):G3}");
    }

    [Fact]
    public void A_row_of_weight_zero_has_no_influence()
    {
        var d = Columns(40, 3);
        var weights = Enumerable.Range(0, 40).Select(i => i % 4 == 0 ? 0f : 1.5f).ToArray();
        var (reference, _) = Train(Data(d, weights), epochs: 3);

        // The same rows with the weight-0 rows' targets changed (inputs too): bit-identical, their terms are selected away.
        var changed = (X: (float[])d.X.Clone(), R: (float[])d.R.Clone(), C: (int[])d.C.Clone(), B: (int[])d.B.Clone(), M: (int[])d.M.Clone());
        for (int i = 0; i < 40; i += 4)
        {
            changed.R[i] = 1e6f;
            changed.C[i] = (d.C[i] + 1) % 3;
            changed.B[i] = d.B[i] == 1 ? 0 : 1;
            changed.M[2 * i] = 1 - d.M[2 * i];
            for (int j = 0; j < 4; j++) changed.X[4 * i + j] *= -3;
        }
        Assert.Equal(reference, Train(Data(changed, weights), epochs: 3).Parameters);

        // The weight-0 rows removed (the others keep 1.5): the same training within float32 rounding.
        var kept = Enumerable.Range(0, 40).Select(i => i % 4 == 0 ? 0 : 1).ToArray();
        var (removed, _) = Train(Data(Repeat(d, kept), [.. Enumerable.Repeat(1.5f, 30)]), epochs: 3);
        Assert.True(MaxDifference(reference, removed) <= 2e-6, $"max |Δθ| = {MaxDifference(reference, removed):G3}");
    }

    [Fact]
    public void A_batch_whose_rows_all_weigh_zero_has_loss_zero_and_a_zero_gradient()
    {
        var d = Columns(16, 4);
        var weights = Enumerable.Range(0, 16).Select(i => i < 8 ? 0f : 1f).ToArray();
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Data(d, weights));
        using var step = new TrainingStep(model, Sgd, 16);
        var before = cpu.ToArray(model.Parameters.Values);
        step.Run(device, 0, 8);                                   // rows 0–7: labelled, all of weight 0
        Assert.All(cpu.ToArray(step.TaskLosses), l => Assert.Equal(0f, l));
        Assert.All(cpu.ToArray(model.Parameters.Gradients), g => Assert.Equal(0f, g));
        Assert.Equal(before, cpu.ToArray(model.Parameters.Values));
        Assert.All(cpu.ToArray(step.TaskLabelled), n => Assert.True(n > 0));   // labelled: the heads are gated as labelled
        step.Run(device, 8, 8);
        Assert.All(cpu.ToArray(step.TaskLosses), l => Assert.True(l > 0 && float.IsFinite(l)));
    }

    /// <summary>Validation metrics of weighted rows (loss, RMSE, MAE, accuracy, precision, recall, F1, R², binary AUC, marked
    /// weighted) equal those of the rows duplicated (rtol 1e-5: float32 sums on the device).</summary>
    [Fact]
    public void Evaluation_metrics_of_weighted_rows_equal_those_of_the_duplicated_rows()
    {
        var d = Columns(50, 5);
        var times = Enumerable.Range(0, 50).Select(i => i % 5 == 0 ? 0 : 1 + i % 3).ToArray();
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(), cpu);
        new Trainer(new TrainerOptions { Epochs = 5, Step = Sgd }).Fit(model, Data(Columns(64, 6)), cancellationToken: Ct);
        var weighted = model.Evaluate(Data(d, Array.ConvertAll(times, t => (float)t)));
        var duplicated = model.Evaluate(Data(Repeat(d, times)));
        for (int t = 0; t < 4; t++)
        {
            var (w, u) = (weighted[t], duplicated[t]);
            Assert.True(w.Weighted, w.Task);
            Assert.False(u.Weighted, u.Task);
            void Same(double? a, double? b, string what)
            {
                Assert.True(a.HasValue == b.HasValue, $"{w.Task} {what}");
                if (a is { } x) Assert.True(Math.Abs(x - b!.Value) <= 1e-5 * Math.Abs(x) + 1e-7, $"{w.Task} {what}: {x} vs {b}");
            }
            Same(w.Loss, u.Loss, "loss");
            Same(w.Rmse, u.Rmse, "rmse");
            Same(w.Mae, u.Mae, "mae");
            Same(w.Accuracy, u.Accuracy, "accuracy");
            Same(w.Precision, u.Precision, "precision");
            Same(w.Recall, u.Recall, "recall");
            Same(w.F1, u.F1, "f1");
            Same(w.RSquared, u.RSquared, "r2");
            Same(w.Auc, u.Auc, "auc");   // binary: the weighted pair count; multi-label: the mean of the labels' weighted AUCs
        }
        Assert.NotNull(weighted[3].Auc);
    }

    /// <summary>The weighted kernels on ILGPU (its CPU accelerator, or CUDA where present): three full-batch SGD steps and a
    /// shuffled mini-batch Fit with weighted validation agree with the SIMD CPU path (rtol 1e-4, atol 1e-5: summation orders).</summary>
    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Weighted_training_on_the_ilgpu_kernels_matches_the_cpu_path(string device)
    {
        var ilgpu = TestDevices.Get(device);
        var d = Columns(12, 8);
        var weights = Enumerable.Range(0, 12).Select(i => (float)(i % 4) * 0.75f).ToArray();
        var data = Data(d, weights);
        var cpu = new CpuBackend<float>();
        var spec = Spec(new RegressionLoss(RegressionLossKind.Huber, 0.5));
        using var a = MultiTaskModel.Create(spec, cpu);
        using var b = MultiTaskModel.Create(spec, ilgpu);
        using (var da = DeviceDataset.Upload(a, data))
        using (var db = DeviceDataset.Upload(b, data))
        using (var sa = new TrainingStep(a, Sgd, 12))
        using (var sb = new TrainingStep(b, Sgd, 12))
        {
            for (int s = 0; s < 3; s++) { sa.Run(da, 0, 12); sb.Run(db, 0, 12); }
            Tolerance.AllClose(Tolerance.ToDouble(cpu.ToArray(a.Parameters.Values)), ilgpu.ToArray(b.Parameters.Values), 1e-4, 1e-5, "parameters");
            Tolerance.AllClose(Tolerance.ToDouble(cpu.ToArray(sa.TaskLosses)), ilgpu.ToArray(sb.TaskLosses), 1e-4, 1e-6, "losses");
        }
        var options = new TrainerOptions { Epochs = 2, BatchSize = 4, Seed = 1, Step = Sgd };
        var valid = Data(Columns(10, 9), [.. Enumerable.Range(0, 10).Select(i => (float)(1 + i % 3))]);
        var ra = new Trainer(options).Fit(a, data, valid, cancellationToken: Ct);
        var rb = new Trainer(options).Fit(b, data, valid, cancellationToken: Ct);
        for (int t = 0; t < 4; t++)
        {
            var (va, vb) = (ra.History[^1].Validation![t], rb.History[^1].Validation![t]);
            Assert.True(va.Weighted && vb.Weighted);
            Assert.Equal(va.Loss, vb.Loss, 1e-4);
            Assert.Equal(va.Rmse ?? 0, vb.Rmse ?? 0, 1e-4);
            Assert.Equal(va.Accuracy ?? 0, vb.Accuracy ?? 0, 1e-6);
        }
    }

    /// <summary>A data-parallel run trains and validates weighted data (the exchange weighs the ranks by their weight sums,
    /// maths §20; the two-rank values: WeightedDistributedStepTests, WeightedDistributedEvaluationTests): each epoch's
    /// validation loss, RMSE and accuracy (all-reduced device sums) equal the one-process weighted evaluation of the weights
    /// it was taken at (rtol 1e-5: float32 device sums against float64 sums of the outputs), and early stopping watches them.</summary>
    [Fact]
    public void A_data_parallel_run_trains_and_validates_weighted_data()
    {
        var d = Columns(16, 7);
        var weights = Enumerable.Range(0, 16).Select(r => 1f + r % 3).ToArray();
        var validation = Data(Columns(12, 8), [.. Enumerable.Range(0, 12).Select(r => 0.5f + r % 4)]);
        var cpu = new CpuBackend<float>();
        using var plain = MultiTaskModel.Create(Spec(), cpu);
        var distributed = new TrainerOptions { Epochs = 2, Distributed = new DistributedOptions { Communicator = SingleProcessCommunicator.Instance } };
        var result = new Trainer(distributed).Fit(plain, Data(d, weights), validation, cancellationToken: Ct);
        Assert.Equal(2, result.History.Count);
        var last = result.History[^1].Validation!;
        var expected = plain.Evaluate(validation);   // one process, float64 metrics of the outputs at the final weights
        for (int t = 0; t < expected.Count; t++)
        {
            Assert.True(last[t].Weighted);
            Assert.Equal(expected[t].Loss, last[t].Loss, 1e-5 * Math.Abs(expected[t].Loss) + 1e-6);
            var (e, a) = (expected[t].Rmse ?? expected[t].Accuracy, last[t].Rmse ?? last[t].Accuracy);
            Assert.Equal(e!.Value, a!.Value, 1e-5 * Math.Abs(e.Value) + 1e-6);
        }
        var stopping = new Trainer(distributed with { Epochs = 3, EarlyStoppingPatience = 1 }).Fit(plain, Data(d, weights), validation, cancellationToken: Ct);
        Assert.True(stopping.BestEpoch >= 1);
    }
}
