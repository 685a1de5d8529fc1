using System.Text.Json;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Autodiff;
using Engine.Tests.Cli;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Losses;

/// <summary>
/// Binary cross-entropy with logits and label smoothing ε (maths §19.13), through §19.10's fused kernels: the target is
/// t = y(1 − ε) + ε/2, Keras' <c>BinaryCrossentropy(label_smoothing=ε)</c> convention (torch 1.13 has no smoothing for BCE),
/// for a binary task's one logit and for each of a multi-label task's k logits (a hand-derived 2 × 2 example with per-label
/// pos_weight and row weights; every check below also with k = 3 columns).
/// Values against torch's <c>binary_cross_entropy_with_logits</c> with the smoothed targets (Tests/Fixtures/smoothed_bce_torch.json,
/// make_smoothed_bce_fixture.py, float64; with ignored entries, pos_weight, row weights, ε = 1, logits of scale 40) on both
/// float64 backends and the readable reference; float32 SIMD CPU and ILGPU-CPU against float64; ε = 1 makes the loss blind
/// to the label; central differences through the tape; a binary head's SGD step against the reference; the CLI.
/// Tolerances: float64 vs torch rtol 1e-12 (atol 1e-15); float32 vs float64 rtol 1e-5, atol 1e-6.
/// </summary>
public class SmoothedBceTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Loss, double Count, double[] D) Run<T>(Backend<T> k, double[] z, int[] y, int columns, double[]? rowWeights,
        double[] positiveWeights, double smoothing, double upstream, double[]? dStart) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var rw = rowWeights is null ? null : k.Allocate<T>(Array.ConvertAll(rowWeights, T.CreateTruncating));
        using var pw = k.Allocate<T>(Array.ConvertAll(positiveWeights, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var p = k.Allocate<T>(z.Length);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var sum = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[z.Length], T.CreateTruncating));
        View<T> rv = rw?.View ?? default;
        T eps = T.CreateTruncating(smoothing);
        k.PositiveWeightedBinaryCrossEntropyForward(zv.View, yv.View, rv, pw.View, eps, columns, p.View, loss.View, count.View, sum.View);
        k.PositiveWeightedBinaryCrossEntropyBackward(p.View, yv.View, rv, pw.View, eps, columns, sum.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    public static TheoryData<string> TorchCases => new()
    {
        "binary_eps0.1", "binary_eps0.2_masked", "binary_eps1_half_targets", "binary_eps0.05_large_logits", "binary_eps0.1_p3",
        "binary_eps0.3_row_weights_masked",
    };

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch_bce_with_logits_of_the_smoothed_targets(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("smoothed_bce_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[]? D(string p) => c.GetProperty(p).ValueKind == JsonValueKind.Null ? null : c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var z = D("logits")!;
        var y = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        int columns = c.GetProperty("columns").GetInt32();
        double eps = c.GetProperty("smoothing").GetDouble();
        var (rows, positive, loss, grad) = (D("row_weights"), D("pos_weight")!, c.GetProperty("loss").GetDouble(), D("grad")!);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, z, y, columns, rows, positive, eps, 1, null);
            Assert.Equal(y.Count(v => v >= 0), actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 1e-15, $"{name} loss on {backend.GetType().Name}");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"{name} dz on {backend.GetType().Name}");
        }
        var reference = PositiveWeightedBceReference.Forward(z, y, columns, rows, positive, eps);
        Tolerance.AllClose([loss], [reference.Loss], 1e-12, 1e-15, $"{name} loss (readable reference)");
        Tolerance.AllClose(grad, reference.Gradient, 1e-12, 1e-15, $"{name} dz (readable reference)");
    }

    /// <summary>A multi-label example by hand, k = 2, ε = 0.2 (targets 0.9 for a 1, 0.1 for a 0), pos_weight (1, 2):
    /// row 0 z = (0, ln 3), y = (1, 0); row 1 z = (−ln 3, 0), y = (1, no label). softplus(0) = ln 2, softplus(ln 3) = ln 4,
    /// softplus(−ln 3) = ln(4/3), σ(ln 3) = ¾. ℓ₀₀ = 0.9 ln 2 + 0.1 ln 2 = ln 2; ℓ₀₁ = 2·0.1·ln(4/3) + 0.9 ln 4;
    /// ℓ₁₀ = 0.9 ln 4 + 0.1 ln(4/3). ∂ℓ/∂z = (1 + (p − 1)t)σ − pt: (0.5 − 0.9, 1.1·0.75 − 0.2, 0.25 − 0.9). Without row
    /// weights D = n = 3; with s = (2, 1), D = 2 + 2 + 1 = 5 and row 0's terms count twice. Float64 on both backends and the
    /// readable reference, rtol 1e-14.</summary>
    [Fact]
    public void A_multi_label_example_by_hand()
    {
        double ln2 = Math.Log(2), ln3 = Math.Log(3), ln4 = Math.Log(4), ln43 = Math.Log(4.0 / 3);
        double[] z = [0, ln3, -ln3, 0];
        int[] y = [1, 0, 1, Missing];
        double[] positive = [1, 2];
        double l00 = ln2, l01 = 0.2 * ln43 + 0.9 * ln4, l10 = 0.9 * ln4 + 0.1 * ln43;
        double[] d = [0.5 - 0.9, 1.1 * 0.75 - 0.2, 0.25 - 0.9, 0];
        foreach (var (rows, loss, grad) in new[]
        {
            ((double[]?)null, (l00 + l01 + l10) / 3, d.Select(v => v / 3).ToArray()),
            ([2, 1], (2 * l00 + 2 * l01 + l10) / 5, [2 * d[0] / 5, 2 * d[1] / 5, d[2] / 5, 0]),
        })
        {
            string what = rows is null ? "unweighted" : "row weights (2, 1)";
            foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
            {
                var actual = Run(backend, z, y, 2, rows, positive, 0.2, 1, null);
                Assert.Equal(3, actual.Count);
                Tolerance.AllClose([loss], [actual.Loss], 1e-14, 0, $"loss, {what}, {backend.GetType().Name}");
                Tolerance.AllClose(grad, actual.D, 1e-14, 1e-16, $"dz, {what}, {backend.GetType().Name}");
            }
            var reference = PositiveWeightedBceReference.Forward(z, y, 2, rows, positive, 0.2);
            Tolerance.AllClose([loss], [reference.Loss], 1e-14, 0, $"loss, {what} (readable reference)");
            Tolerance.AllClose(grad, reference.Gradient, 1e-14, 1e-16, $"dz, {what} (readable reference)");
        }
    }

    /// <summary>Binary (k = 1) and multi-label (k = 3, one pos_weight per label) entries, with and without row weights.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { 1, 33, 300 } : [1, 33, 300, 1000, 30_000];
        foreach (int columns in new[] { 1, 3 })
        foreach (int rowCount in sizes)
            foreach (double eps in new[] { 0.1, 0.5, 1.0 })
                foreach (bool weighted in new[] { false, true })
                {
                    int n = rowCount * columns;
                    var z = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(n, n + 1, -8, 8)));
                    var y = Enumerable.Range(0, n).Select(i => (i * 7919 + n) % 10 < 2 ? Missing : (i * 104729 + n) % 2).ToArray();
                    var rows = weighted ? Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(rowCount, n + 3, 0, 2))) : null;
                    double[] positive = columns == 1 ? (weighted ? [2.5] : [1]) : weighted ? [2.5, 0.5, 1] : [1, 1, 1];
                    var start = Tolerance.Random(n, n + 4);
                    var expected = Run(TestDevices.Reference, z, y, columns, rows, positive, eps, 0.8, start);
                    var actual = Run(backend, z, y, columns, rows, positive, eps, 0.8, start);
                    string what = $"k={columns} rows={rowCount} ε={eps} weighted={weighted}";
                    Assert.Equal(expected.Count, actual.Count);
                    Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss {what}");
                    Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dz (accumulated) {what}");
                }
    }

    /// <summary>ε = 1 makes every target ½: flipping the labels changes neither the loss nor the gradient (σ(z) − ½)/n
    /// (float64, rtol 1e-14); ε = 0.2 against flipped labels differs.</summary>
    [Fact]
    public void Full_smoothing_makes_the_loss_blind_to_the_label()
    {
        var z = Tolerance.Random(40, 9, -5, 5);
        var y = Enumerable.Range(0, 40).Select(i => i % 7 == 0 ? Missing : i % 3 % 2).ToArray();
        var flipped = y.Select(v => v < 0 ? v : 1 - v).ToArray();
        var a = Run(TestDevices.Reference, z, y, 1, null, [1], 1, 1, null);
        var b = Run(TestDevices.Reference, z, flipped, 1, null, [1], 1, 1, null);
        Tolerance.AllClose([a.Loss], [b.Loss], 1e-14, 0, "loss");
        Tolerance.AllClose(a.D, b.D, 1e-14, 1e-17, "dz");
        var half = z.Select((v, i) => y[i] < 0 ? 0 : (1 / (1 + Math.Exp(-v)) - 0.5) / a.Count).ToArray();
        Tolerance.AllClose(half, a.D, 1e-13, 1e-16, "dz = (σ − ½)/n");
        Assert.NotEqual(Run(TestDevices.Reference, z, y, 1, null, [1], 0.2, 1, null).Loss, Run(TestDevices.Reference, z, flipped, 1, null, [1], 0.2, 1, null).Loss, 6);
    }

    /// <summary>A 3 × 3 multi-label block (per-label pos_weight, row weights, a missing label) by central differences.</summary>
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_of_multi_label_smoothing(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var z = leaves.Random("z", 3, 3, seed: 53);
        using var labels = backend.Allocate<int>([1, 0, Missing, 0, 1, 1, 1, Missing, 0]);
        using var rows = backend.Allocate<double>([1.5, 0.5, 2]);
        using var ones = backend.Allocate<double>([1, 1, 1]);
        using var positive = backend.Allocate<double>([3, 0.5, 1]);
        foreach (var (rv, pw) in new[] { (default(View<double>), ones.View), (rows.View, positive.View) })
            foreach (double eps in new[] { 0.1, 0.6 })
            {
                var result = GradCheck.Run(backend, tape => tape.PositiveWeightedBinaryCrossEntropy(z, new Labels(labels.View), rv, pw, smoothing: eps), [z]);
                Assert.True(result.Passed, result.ToString());
                Assert.Equal(9, result.Checked);
            }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_smoothing_positive_and_row_weights(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var z = leaves.Random("z", 9, 1, seed: 52);
        using var labels = backend.Allocate<int>([1, 0, Missing, 0, 1, 1, Missing, 0, 1]);
        using var rows = backend.Allocate<double>([1, 0.5, 2, 0, 1.5, 3, 1, 2, 0.25]);
        using var ones = backend.Allocate<double>([1]);
        using var positive = backend.Allocate<double>([3]);
        foreach (var (rv, pw) in new[] { (default(View<double>), ones.View), (rows.View, positive.View) })
            foreach (double eps in new[] { 0.1, 0.6 })
            {
                var result = GradCheck.Run(backend, tape => tape.PositiveWeightedBinaryCrossEntropy(z, new Labels(labels.View), rv, pw, smoothing: eps), [z]);
                Assert.True(result.Passed, result.ToString());
                Assert.Equal(9, result.Checked);
            }
    }

    /// <summary>A binary head with ε = 0.2: one full-batch SGD step's loss and head-bias step against the readable reference on
    /// the model's logits (rtol 2e-6; 1e-4 + 1e-7 for the step), on cpu and ilgpu-cpu.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_binary_head_with_smoothing_steps_as_the_float64_reference(string device)
    {
        var rng = new Random(4);
        const int rows = 40;
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = Enumerable.Range(0, rows).Select(i => i % 6 == 5 ? MissingLabel.Class : x[i * 4] + x[i * 4 + 1] > 0.5 ? 1 : 0).ToArray();
        var data = new TrainingData(x, 4, [TaskData.Binary("b", y)]);
        var backend = TestDevices.Get(device);
        using var model = MultiTaskModel.Create(new ModelSpec(4, [8], [TaskHead.Binary("b") with { LabelSmoothing = 0.2 }]) { Seed = 5 }, backend);
        var logits = Array.ConvertAll(model.Predict(data.Inputs, data.Rows)["b"].Values, v => (double)v);
        var expected = PositiveWeightedBceReference.Forward(logits, y, 1, null, [1.0], 0.2);
        var plain = BinaryCrossEntropyReference.Forward(logits, y);
        Assert.True(Math.Abs(expected.Loss - plain.Loss) > 1e-3, "smoothing must change the loss");
        float bias = model.ReadParameter("heads.b.bias")[0];
        using var deviceData = DeviceDataset.Upload(model, data, shuffleable: false);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.5 }, rows);
        step.Run(deviceData, 0, rows);
        Assert.Equal(expected.Loss, backend.ToArray(step.TaskLosses)[0], 2e-6 * expected.Loss);
        double g = expected.Gradient.Sum();
        Assert.Equal(bias - 0.5 * g, model.ReadParameter("heads.b.bias")[0], 1e-4 * Math.Abs(0.5 * g) + 1e-7);
    }

    /// <summary>A 3-label head with ε = 0.15 (a missing label every 4th entry): one full-batch SGD step's loss and head-bias
    /// step (one per label: the gradient's column sums) against the readable reference on the model's logits, on cpu and
    /// ilgpu-cpu (rtol 2e-6; 1e-4 + 1e-7 for the step); the loss differs from the unsmoothed one.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_multi_label_head_with_smoothing_steps_as_the_float64_reference(string device)
    {
        var rng = new Random(5);
        const int rows = 40, k = 3;
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = Enumerable.Range(0, rows * k).Select(i => i % 4 == 3 ? MissingLabel.Class : x[i / k * 4 + i % k] > 0 ? 1 : 0).ToArray();
        var data = new TrainingData(x, 4, [TaskData.MultiLabel("m", y, k)]);
        var backend = TestDevices.Get(device);
        using var model = MultiTaskModel.Create(new ModelSpec(4, [8], [TaskHead.MultiLabel("m", k) with { LabelSmoothing = 0.15 }]) { Seed = 5 }, backend);
        var logits = Array.ConvertAll(model.Predict(data.Inputs, data.Rows)["m"].Values, v => (double)v);
        var expected = PositiveWeightedBceReference.Forward(logits, y, k, null, [1.0, 1.0, 1.0], 0.15);
        var plain = PositiveWeightedBceReference.Forward(logits, y, k, null, [1.0, 1.0, 1.0]);
        Assert.True(Math.Abs(expected.Loss - plain.Loss) > 1e-3, "smoothing must change the loss");
        var bias = model.ReadParameter("heads.m.bias");
        using var deviceData = DeviceDataset.Upload(model, data, shuffleable: false);
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.5 }, rows);
        step.Run(deviceData, 0, rows);
        Assert.Equal(expected.Loss, backend.ToArray(step.TaskLosses)[0], 2e-6 * expected.Loss);
        var stepped = model.ReadParameter("heads.m.bias");
        for (int j = 0; j < k; j++)
        {
            double g = Enumerable.Range(0, rows).Sum(r => expected.Gradient[r * k + j]);
            Assert.Equal(bias[j] - 0.5 * g, stepped[j], 1e-4 * Math.Abs(0.5 * g) + 1e-7);
        }
    }

    [Fact]
    public void A_warm_step_with_binary_smoothing_allocates_nothing()
    {
        var rng = new Random(6);
        const int rows = 64;
        var x = new float[rows * 4];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = Enumerable.Range(0, rows).Select(i => i % 5 == 4 ? MissingLabel.Class : x[i * 4] > 0 ? 1 : 0).ToArray();
        var data = new TrainingData(x, 4, [TaskData.Binary("b", y), TaskData.Binary("c", [.. y.Select(v => v < 0 ? v : 1 - v)]),
            TaskData.MultiLabel("m", [.. y.SelectMany(v => new[] { v, v < 0 ? 0 : 1 - v })], 2)]);
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(new ModelSpec(4, [8], [TaskHead.Binary("b") with { LabelSmoothing = 0.1 },
            TaskHead.Binary("c") with { LabelSmoothing = 0.2, PositiveWeights = [2.0] }, TaskHead.MultiLabel("m", 2) with { LabelSmoothing = 0.3 }]) { Seed = 5 }, cpu);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16); });
    }

    [Fact]
    public void The_cli_smooths_a_binary_or_multi_label_task_by_name_and_refuses_product_tasks()
    {
        using var dir = new TempDirectory();
        var csv = dir.Write("d.csv", Mtl.SyntheticCsv());
        string model = dir.File_("b.safetensors");
        var ok = Mtl.Run("train", "--data", csv, "--regression", "y", "--binary", "label", "--categorical", "shade", "--epochs", "5",
            "--label-smoothing", "label:0.1", "--save", model, "--report", "-");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(0.1, Engine.Experiments.ExperimentReport.FromJson(ok.Output).Settings.LabelSmoothing["label"]);
        using (var loaded = MultiTaskModel.Load(model, new CpuBackend<float>()))
            Assert.Equal(0.1, loaded.Spec.Heads.Single(h => h.Name == "label").LabelSmoothing);
        Assert.True(Mtl.Run("evaluate", "--model", model, "--data", csv).ExitCode == 0);

        var text = new System.Text.StringBuilder("x,a,b\n");
        for (int i = 0; i < 40; i++) text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i / 10.0 - 2},{(i % 3 == 0 ? 1 : 0)},{(i > 20 ? 1 : 0)}\n");
        var multi = dir.Write("m.csv", text.ToString());
        string tagged = dir.File_("m.safetensors");
        var smoothed = Mtl.Run("train", "--data", multi, "--multilabel", "tags=a,b", "--epochs", "2", "--label-smoothing", "tags:0.2",
            "--save", tagged, "--report", "-");
        Assert.True(smoothed.ExitCode == 0, smoothed.ToString());
        Assert.Equal(0.2, Engine.Experiments.ExperimentReport.FromJson(smoothed.Output).Settings.LabelSmoothing["tags"]);
        using (var loaded = MultiTaskModel.Load(tagged, new CpuBackend<float>()))
            Assert.Equal(0.2, loaded.Spec.Heads.Single(h => h.Name == "tags").LabelSmoothing);
        Assert.True(Mtl.Run("evaluate", "--model", tagged, "--data", multi).ExitCode == 0);

        var usage = Engine.Cli.ExitCodes.Usage;
        Mtl.AssertFails(Mtl.Run("train", "--data", multi, "--multilabel", "tags=a,b", "--epochs", "1", "--label-smoothing", "a:0.1"), usage,
            "--label-smoothing", "'a' is not a --classification, --binary or --multilabel task", "binary and multi-label tasks: tags");
        var esmm = dir.Write("e.csv", "x,click,buy,both\n1,0,0,0\n2,1,0,0\n3,1,1,1\n4,0,0,0\n5,1,1,1\n6,0,0,0\n");
        Mtl.AssertFails(Mtl.Run("train", "--data", esmm, "--binary", "click,buy,both", "--task-product", "both=click*buy", "--epochs", "1", "--label-smoothing", "both:0.1"), usage,
            "--label-smoothing", "'both' is a --task-product task");
    }
}
