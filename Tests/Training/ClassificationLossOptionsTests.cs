using Engine.Tests.Infrastructure;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Cli;
using Engine.Tests.Data;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Label smoothing and class weights of a classification task (<see cref="TaskHead.LabelSmoothing"/>,
/// <see cref="TaskHead.ClassWeights"/>, <c>--label-smoothing</c>, <c>--class-weights</c>; maths §19.9) in the model: the
/// training step's loss and its head-bias step against <see cref="WeightedCrossEntropyReference"/> in float64 on the model's
/// own logits, equal class weights giving the unweighted run, checkpoints keeping both (a model without them keeps its
/// JSON), a warm step allocating nothing, data-parallel class weights refused, and the CLI's flags and errors.
/// </summary>
public class ClassificationLossOptionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>4 inputs → "r" (regression) and "c" (4 classes, every 5th row unlabelled).</summary>
    private static TrainingData Data(int rows, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var r = new float[rows];
        var c = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            r[i] = x[i * 4] - x[i * 4 + 1];
            c[i] = i % 5 == 4 ? MissingLabel.Class : (x[i * 4 + 2] > 0 ? 2 : 0) + (x[i * 4 + 3] > 0 ? 1 : 0);
        }
        return new TrainingData(x, 4, [TaskData.Regression("r", r), TaskData.Classification("c", c, 4)]);
    }

    private static ModelSpec Spec(double? smoothing, double[]? classWeights) =>
        new(4, [8], [TaskHead.Regression("r"), TaskHead.Classification("c", 4) with { LabelSmoothing = smoothing, ClassWeights = classWeights }]) { Seed = 3 };

    /// <summary>One full-batch SGD step: the step's loss of "c" is the reference's on the model's logits (rtol 2e-6), and the
    /// head bias moves by −η·Σᵣ ∂L/∂zᵣ (rtol 1e-4, atol 1e-7: float32 logits, float64 reference).</summary>
    [Theory]
    [InlineData(0.1, null)]
    [InlineData(0.0, new[] { 0.5, 2.0, 1.0, 3.0 })]
    [InlineData(0.25, new[] { 1.0, 0.0, 4.0, 0.5 })]
    public void The_step_loss_and_head_step_match_the_float64_reference(double smoothing, double[]? classWeights)
    {
        var data = Data(40, 1);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(smoothing, classWeights), cpu);
        var logits = Array.ConvertAll(model.Predict(data.Inputs, data.Rows)["c"].Values, v => (double)v);
        var expected = WeightedCrossEntropyReference.Forward(logits, data["c"].Classes!, 4, null, classWeights, smoothing);
        var biasBefore = model.ReadParameter("heads.c.bias");
        const double lr = 0.5;
        using var device = DeviceDataset.Upload(model, data, shuffleable: false);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr }, data.Rows);
        step.Run(device, 0, data.Rows);
        Assert.Equal(expected.Loss, cpu.ToArray(step.TaskLosses)[1], 2e-6 * expected.Loss);
        Assert.Equal(expected.Count, cpu.ToArray(step.TaskLabelled)[1]);
        var biasAfter = model.ReadParameter("heads.c.bias");
        for (int k = 0; k < 4; k++)
        {
            double g = 0;
            for (int r = 0; r < data.Rows; r++) g += expected.Gradient[r * 4 + k];
            Assert.Equal(biasBefore[k] - lr * g, biasAfter[k], 1e-4 * Math.Abs(lr * g) + 1e-7);
        }
    }

    /// <summary>Class weights all equal to 2 cancel in the weighted mean (Σ 2ℓ / Σ 2): the trajectory of the unweighted run
    /// within float32 rounding (1e-5); label smoothing 0.2 moves it (max |Δθ| &gt; 1e-3).</summary>
    [Fact]
    public void Equal_class_weights_train_like_none_and_smoothing_trains_differently()
    {
        var data = Data(96, 2);
        double[] Train(double? smoothing, double[]? weights)
        {
            var cpu = new CpuBackend<float>();
            using var model = MultiTaskModel.Create(Spec(smoothing, weights), cpu);
            new Trainer(new TrainerOptions { Epochs = 3, BatchSize = 32 }).Fit(model, data, cancellationToken: Ct);
            return Array.ConvertAll(cpu.ToArray(model.Parameters.Values), v => (double)v);
        }
        var plain = Train(null, null);
        var equal = Train(null, [2, 2, 2, 2]);
        var smoothed = Train(0.2, null);
        Assert.True(plain.Zip(equal).Max(p => Math.Abs(p.First - p.Second)) < 1e-5, "equal class weights");
        Assert.True(plain.Zip(smoothed).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "smoothing must change the training");
    }

    [Fact]
    public void A_checkpoint_keeps_smoothing_and_class_weights_and_a_plain_model_keeps_its_json()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("smooth.safetensors");
        var spec = Spec(0.15, [1, 2, 0.5, 3]);
        using (var model = MultiTaskModel.Create(spec, new CpuBackend<float>())) model.Save(path);
        using var loaded = MultiTaskModel.Load(path, new CpuBackend<float>());
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(0.15, loaded.Spec.Heads[1].LabelSmoothing);
        Assert.Equal([1, 2, 0.5, 3], loaded.Spec.Heads[1].ClassWeights!);
        string plain = Spec(null, null).ToJson();
        Assert.DoesNotContain("abelSmoothing", plain);
        Assert.DoesNotContain("lassWeights", plain);
    }

    [Fact]
    public void Bad_values_are_refused_naming_the_task()
    {
        var cpu = new CpuBackend<float>();
        void Refused(ModelSpec spec, string text) => Assert.Contains(text, Assert.ThrowsAny<ArgumentException>(() => MultiTaskModel.Create(spec, cpu)).Message);
        Refused(Spec(1.5, null), "ε must lie in [0, 1]");
        Refused(Spec(null, [1, 2, 3]), "3 class weights for 4 classes");
        Refused(Spec(null, [1, -1, 1, 1]), "finite, ≥ 0 and not all 0");
        Refused(Spec(null, [0, 0, 0, 0]), "finite, ≥ 0 and not all 0");
        Refused(new ModelSpec(4, [8], [TaskHead.Regression("r") with { LabelSmoothing = 0.1 }]), "label smoothing applies to classification (softmax), binary and multi-label tasks");
        Refused(new ModelSpec(4, [8], [TaskHead.MultiLabel("m", 3) with { ClassWeights = [1, 1, 1] }]), "class weights apply to classification (softmax) tasks");
    }

    [Fact]
    public void A_warm_step_with_smoothing_and_class_weights_allocates_nothing()
    {
        var data = Data(64, 3);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(0.1, [1, 2, 3, 4]), cpu);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16); });
    }

    [Fact]
    public void A_data_parallel_step_with_class_weights_weighs_the_ranks_by_their_weight_sums()
    {
        var cpu = new CpuBackend<float>();
        var communicator = SingleProcessCommunicator.Instance;
        using (var smoothed = MultiTaskModel.Create(Spec(0.1, null), cpu))
        using (var step = new TrainingStep(smoothed, new StepOptions(), 16, communicator: communicator, everyRowLabelled: true))
            Assert.False(step.CountWeightedExchange);      // smoothing keeps the denominator n: the row share is exact
        using var weighted = MultiTaskModel.Create(Spec(null, [1, 2, 3, 4]), cpu);
        using var classWeighted = new TrainingStep(weighted, new StepOptions(), 16, communicator: communicator, everyRowLabelled: true);
        Assert.True(classWeighted.CountWeightedExchange);  // Σ w_y per rank: weighted by the masses (values: WeightedDistributedStepTests)
    }

    [Fact]
    public void The_cli_trains_with_smoothing_and_class_weights_and_rejects_bad_flags()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        string model = dir.File_("m.safetensors");
        var ok = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--label-smoothing", "0.1", "--class-weights", "label:1,2.5", "--save", model, "--report", "-"]);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var report = Engine.Experiments.ExperimentReport.FromJson(ok.Output);
        Assert.Equal(0.1, report.Settings.DefaultLabelSmoothing);
        Assert.Equal([1, 2.5], report.Settings.ClassWeights["label"]);
        using (var loaded = MultiTaskModel.Load(model, new CpuBackend<float>()))
        {
            Assert.Equal(0.1, loaded.Spec.Heads.Single(h => h.Name == "label").LabelSmoothing);
            Assert.Equal([1, 2.5], loaded.Spec.Heads.Single(h => h.Name == "label").ClassWeights!);
        }
        var evaluated = Mtl.Run("evaluate", "--model", model, "--data", csv);
        Assert.True(evaluated.ExitCode == 0, evaluated.ToString());

        var usage = Engine.Cli.ExitCodes.Usage;
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--label-smoothing", "1.5"]), usage, "--label-smoothing 1.5", "must lie in [0, 1]");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--label-smoothing", "label:x"]), usage, "--label-smoothing label:x", "EPS or TASK:EPS");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--label-smoothing", "y:0.1"]), usage, "--label-smoothing", "'y' is not a --classification, --binary or --multilabel task");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--label-smoothing", "label:0.1", "--label-smoothing", "label:0.2"]), usage, "'label' is given twice");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--class-weights", "label:1,-2"]), usage, "--class-weights label:1,-2", "weight 1 ('-2')");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--class-weights", "label:0,0"]), usage, "--class-weights label:0,0", "must not all be 0");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--class-weights", "label"]), usage, "--class-weights", "is not TASK:W0,W1");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--epochs", "1", "--label-smoothing", "0.1"), usage,
            "--label-smoothing 0.1", "no --classification task", "a --binary or --multilabel task takes TASK:EPS, e.g. --label-smoothing label:0.1");
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--class-weights", "label:1,2,3"]), Engine.Cli.ExitCodes.BadInput, // the count needs the data
            "--class-weights label", "3 weights for 2 classes", "in the order neg, pos");
    }

    /// <summary>A binary task with pos_weight: one full-batch SGD step's loss and head-bias step against
    /// <see cref="PositiveWeightedBceReference"/> on the model's logits (rtol 2e-6; 1e-4 + 1e-7 for the step).</summary>
    [Fact]
    public void A_binary_task_with_a_positive_weight_steps_as_the_float64_reference()
    {
        var rng = new Random(4);
        const int rows = 40;
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = Enumerable.Range(0, rows).Select(i => i % 6 == 5 ? MissingLabel.Class : x[i * 4] + x[i * 4 + 1] > 0.5 ? 1 : 0).ToArray();
        var data = new TrainingData(x, 4, [TaskData.Binary("b", y)]);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(new ModelSpec(4, [8], [TaskHead.Binary("b") with { PositiveWeights = [3.0] }]) { Seed = 5 }, cpu);
        var logits = Array.ConvertAll(model.Predict(data.Inputs, data.Rows)["b"].Values, v => (double)v);
        var expected = PositiveWeightedBceReference.Forward(logits, y, 1, null, [3.0]);
        float bias = model.ReadParameter("heads.b.bias")[0];
        using var device = DeviceDataset.Upload(model, data, shuffleable: false);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.5 }, rows);
        step.Run(device, 0, rows);
        Assert.Equal(expected.Loss, cpu.ToArray(step.TaskLosses)[0], 2e-6 * expected.Loss);
        double g = expected.Gradient.Sum();
        Assert.Equal(bias - 0.5 * g, model.ReadParameter("heads.b.bias")[0], 1e-4 * Math.Abs(0.5 * g) + 1e-7);
    }

    [Fact]
    public void The_cli_takes_pos_weight_for_binary_tasks_and_refuses_it_elsewhere()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        string model = dir.File_("b.safetensors");
        var ok = Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--categorical", "shade", "--epochs", "5", "--pos-weight", "label:2.5", "--save", model);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        using (var loaded = MultiTaskModel.Load(model, new CpuBackend<float>()))
            Assert.Equal([2.5], loaded.Spec.Heads.Single(h => h.Name == "label").PositiveWeights!);
        var usage = Engine.Cli.ExitCodes.Usage;
        Mtl.AssertFails(Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--pos-weight", "label:2"]), usage, "--pos-weight", "'label' is not a --binary or --multilabel task", "--class-weights label:W0,W1");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--epochs", "1", "--pos-weight", "label:-1"), usage, "--pos-weight label:-1", "weight 0 ('-1')");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--epochs", "1", "--class-weights", "label:1,2"), usage,
            "--class-weights", "'label' is a binary or multi-label task", "--pos-weight label:P");
        Mtl.AssertFails(Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--categorical", "shade", "--epochs", "1", "--pos-weight", "label:1,2"), Engine.Cli.ExitCodes.BadInput,
            "--pos-weight label", "2 weights for 1 labels");
    }
}
