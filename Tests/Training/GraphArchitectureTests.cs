using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Ordered tasks (docs/maths.md §17.6–17.8) on every shared part, not only the shared bottom: tasks ctr (binary), cvr
/// (binary, no loss of its own), ctcvr = ctr·cvr (ESMM's product) and dwell (regression) whose tower reads
/// [h_dwell | σ(z_ctr)], on MMoE, OMoE, CGC, PLE, cross-stitch and DSelect-k (the shared part is built for the three
/// tasks that read it: a product has no gate, no column, no features). One full-batch SGD step (η = 0.1, float32, on the
/// SIMD CPU path and ILGPU's CPU accelerator) of <see cref="TrainingStep"/> moves every parameter as θ − η∇ of
/// L_ctr + L_ctcvr + L_dwell (+ DSelect-k's entropy terms) computed in float64 from the same weights by a reference that
/// builds the shared part alone (<see cref="Architecture.Build{T}"/> on float64) and writes the towers, the output layers,
/// the product and the tower input itself, from leaves named as the model's slots, splitting dwell's first layer by
/// columns instead of concatenating (abs 2e-6; the losses rtol 1e-5).
/// </summary>
public class GraphArchitectureTests
{
    internal const int Batch = 8, Features = 4, Hidden = 6, Tower = 5;
    private static readonly int[] Clicks = EsmmNet.ClickLabels, Conversions = EsmmNet.ConversionLabels;
    private static double[] Inputs => EsmmNet.Inputs;
    internal static double[] Dwell => Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(Batch, 93, -1, 1)));

    internal static readonly Dictionary<string, Architecture> s_architectures = new()
    {
        ["mmoe"] = new MmoeArchitecture(Experts: 3),
        ["omoe"] = new OmoeArchitecture(Experts: 3),
        ["cgc"] = new CgcArchitecture(Experts: 2, TaskExperts: 1),
        ["ple"] = new PleArchitecture(Experts: 2, TaskExperts: 1, Levels: 2),
        ["cross-stitch"] = new CrossStitchArchitecture(),
        ["dselect-k"] = new DSelectKArchitecture(Experts: 4, TopK: 2),
        ["dselect-k-entropy"] = new DSelectKArchitecture(Experts: 4, TopK: 2, EntropyReg: 0.05),
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in s_architectures.Keys)
                data.Add(device, arch);
        return data;
    }

    private static ModelSpec Spec(string arch) =>
        new(Features, [Hidden], [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr"), TaskHead.Regression("dwell")])
        {
            Architecture = s_architectures[arch],
            Tower = [Tower],
            Graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr") with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"] } },
            Seed = 17,
        };

    private static TrainingData Data() =>
        new(Tolerance.ToFloat(Inputs), Features,
            [TaskData.Binary("ctr", Clicks), TaskData.Binary("ctcvr", Conversions), TaskData.Regression("dwell", Tolerance.ToFloat(Dwell))]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_sgd_step_follows_the_float64_gradient_on_every_shared_part(string device, string arch)
    {
        var spec = Spec(arch);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        Assert.Equal(0, model.TaskRange(2).Length);                                           // the product owns nothing
        Assert.DoesNotContain(model.Parameters.Slots, s => s.Name.Contains("ctcvr", StringComparison.Ordinal));
        Assert.Equal(Tower * (Hidden + 1), model.Parameters.Slots.Single(s => s.Name == "towers.dwell.0.weight").Length);
        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var data = DeviceDataset.Upload(model, Data());
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr }, Batch);
        step.Run(data, 0, Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        var losses = Tolerance.ToDouble(model.Backend.ToArray(step.TaskLosses));

        var slots = model.Parameters.Slots.Select(s => (s.Name, s.Offset, s.Length)).ToArray();
        var (referenceLosses, gradient) = Reference(spec, slots, before);
        Tolerance.AllClose(referenceLosses, losses, 1e-5, 1e-6, $"{arch}: task losses (ctr, cvr: none, ctcvr, dwell)");
        Tolerance.AllClose([.. before.Select((v, i) => v - lr * gradient[i])], after, 0, 2e-6, $"{arch}: θ after one SGD step");
        // The CVR tower moved through the product, though cvr has no label; dwell's loss reached the CTR tower.
        var (cvrOffset, cvrLength) = model.TaskRange(1);
        Assert.Contains(Enumerable.Range(cvrOffset, cvrLength), i => after[i] != before[i]);
    }

    public static TheoryData<string, string> SourceCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var arch in new[] { "shared-bottom", "mmoe", "cross-stitch" })
                data.Add(device, arch);
        return data;
    }

    /// <summary>A multi-class source (§17.7): "dwell"'s tower reads [h_dwell | softmax(z_cls)] (3 class probabilities), end to
    /// end. One SGD step against θ − η∇(L_cls + L_dwell) from a float64 reference that applies the softmax and splits the
    /// first layer by columns itself (abs 2e-6).</summary>
    [Theory]
    [MemberData(nameof(SourceCases))]
    public void A_tower_reads_a_multi_class_tasks_probabilities(string device, string arch)
    {
        var spec = new ModelSpec(Features, [Hidden], [TaskHead.Classification("cls", 3), TaskHead.Regression("dwell")])
        {
            Architecture = arch == "shared-bottom" ? null : s_architectures[arch],
            Tower = [Tower],
            Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["cls"] } },
            Seed = 19,
        };
        int[] classes = [0, 2, 1, 1, 0, 2, 2, 1];
        var data = new TrainingData(Tolerance.ToFloat(Inputs), Features, [TaskData.Classification("cls", classes, 3), TaskData.Regression("dwell", Tolerance.ToFloat(Dwell))]);
        using var model = MultiTaskModel.Create(spec, TestDevices.Get(device));
        Assert.Equal(Tower * (Hidden + 3), model.Parameters.Slots.Single(s => s.Name == "towers.dwell.0.weight").Length);
        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var uploaded = DeviceDataset.Upload(model, data);
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr }, Batch);
        step.Run(uploaded, 0, Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        var losses = Tolerance.ToDouble(model.Backend.ToArray(step.TaskLosses));
        var slots = model.Parameters.Slots.Select(s => (s.Name, s.Offset, s.Length)).ToArray();

        var backend = TestDevices.Reference;
        var sharedSpec = spec with { Graph = null };
        using var flat = new FlatParameters<double>(backend);
        var shared = Architecture.Of(sharedSpec).Build(sharedSpec, flat);
        for (int j = 0; j < 2; j++) shared.RegisterTask(flat, j, sharedSpec.Heads[j]);
        flat.Allocate();
        foreach (var slot in flat.Slots)
        {
            var q = slots.Single(x => x.Name == slot.Name);
            Init.Upload(backend, before[q.Offset..(q.Offset + q.Length)], flat.Values.Slice(slot.Offset, slot.Length));
        }
        backend.Fill(flat.Gradients, 0);
        using var leaves = new Leaves<double>(backend);
        double[] Values(string name) { var q = slots.Single(x => x.Name == name); return before[q.Offset..(q.Offset + q.Length)]; }
        Tensor<double> P(string name, int rows, int cols) => leaves.Make(name, rows, cols, Values(name));
        int width = shared.FeatureWidth(0), cols = shared.FeatureWidth(1) + 3;
        var (wc, bc, hc, hcb) = (P("towers.cls.0.weight", Tower, width), P("towers.cls.0.bias", 1, Tower), P("heads.cls.weight", 3, Tower), P("heads.cls.bias", 1, 3));
        var wd = Values("towers.dwell.0.weight");
        var wh = leaves.Make("towers.dwell.0.weight[:, :h]", Tower, cols - 3, [.. Enumerable.Range(0, Tower * (cols - 3)).Select(i => wd[i / (cols - 3) * cols + i % (cols - 3)])]);
        var wa = leaves.Make("towers.dwell.0.weight[:, h:]", Tower, 3, [.. Enumerable.Range(0, Tower * 3).Select(i => wd[i / 3 * cols + cols - 3 + i % 3])]);
        var (bd, hd, hdb) = (P("towers.dwell.0.bias", 1, Tower), P("heads.dwell.weight", 1, Tower), P("heads.dwell.bias", 1, 1));
        var x = leaves.Make("x", Batch, Features, Inputs, requiresGrad: false);
        var y = leaves.Make("dwell", Batch, 1, Dwell, requiresGrad: false);
        var labels = leaves.Labels(classes, 3);
        using var tape = new Tape<double>(backend);
        var features = new Tensor<double>[2];
        var boundary = new Tensor<double>[shared.BoundaryCount];
        shared.Forward(tape, x, features, boundary);
        var zCls = tape.Linear(tape.Linear(features[0], wc, bc, Activation.Relu), hc, hcb);
        var zDwell = tape.Linear(tape.Relu(tape.Add(tape.Linear(features[1], wh, bd), tape.Linear(tape.Softmax(zCls), wa, null))), hd, hdb);
        var lCls = tape.SoftmaxCrossEntropy(zCls, labels);
        var lDwell = tape.Mse(zDwell, y);
        tape.Backward(tape.Add(lCls, lDwell));

        var gradient = new double[before.Length];
        var flatGradient = backend.ToArray(flat.Gradients);
        foreach (var slot in flat.Slots) Array.Copy(flatGradient, slot.Offset, gradient, slots.Single(q => q.Name == slot.Name).Offset, slot.Length);
        void Put(string name, Tensor<double> t) { var q = slots.Single(v => v.Name == name); backend.ToArray(t.Grad).CopyTo(gradient, q.Offset); }
        Put("towers.cls.0.weight", wc); Put("towers.cls.0.bias", bc); Put("heads.cls.weight", hc); Put("heads.cls.bias", hcb);
        Put("towers.dwell.0.bias", bd); Put("heads.dwell.weight", hd); Put("heads.dwell.bias", hdb);
        var (gh, ga) = (backend.ToArray(wh.Grad), backend.ToArray(wa.Grad));
        int at = slots.Single(q => q.Name == "towers.dwell.0.weight").Offset;
        for (int r = 0; r < Tower; r++)
        {
            for (int j = 0; j < cols - 3; j++) gradient[at + r * cols + j] = gh[r * (cols - 3) + j];
            for (int j = 0; j < 3; j++) gradient[at + r * cols + cols - 3 + j] = ga[r * 3 + j];
        }
        Tolerance.AllClose([backend.Read(lCls.Data), backend.Read(lDwell.Data)], losses, 1e-5, 1e-6, $"{arch}: task losses");
        Tolerance.AllClose([.. before.Select((v, i) => v - lr * gradient[i])], after, 0, 2e-6, $"{arch}: θ after one SGD step");
    }

    /// <summary>The float64 reference: the shared part built alone for the tasks that read it (ctr, cvr, dwell), the rest
    /// written here from leaves named as the model's slots. Returns the task losses and ∇ of their sum (regularisers
    /// included) laid out as the model's flat buffer. With <paramref name="lambda"/> (ctr, cvr, ctcvr, dwell) the gradient is
    /// that of Σ λₜLₜ; with <paramref name="cvrLabels"/> cvr has its own loss (BCE on its logit), else none.</summary>
    internal static (double[] Losses, double[] Gradient) Reference(ModelSpec spec, (string Name, int Offset, int Length)[] slots, double[] theta,
        double[]? lambda = null, int[]? cvrLabels = null)
    {
        var backend = TestDevices.Reference;
        string[] readers = ["ctr", "cvr", "dwell"];
        var sharedSpec = spec with { Heads = [spec.Heads[0], spec.Heads[1], spec.Heads[3]], Graph = null };
        using var flat = new FlatParameters<double>(backend);
        var shared = Architecture.Of(sharedSpec).Build(sharedSpec, flat);
        for (int j = 0; j < readers.Length; j++) shared.RegisterTask(flat, j, sharedSpec.Heads[j]);
        flat.Allocate();
        foreach (var slot in flat.Slots)
        {
            var s = slots.Single(q => q.Name == slot.Name);
            Init.Upload(backend, theta[s.Offset..(s.Offset + s.Length)], flat.Values.Slice(slot.Offset, slot.Length));
        }
        backend.Fill(flat.Gradients, 0);

        using var leaves = new Leaves<double>(backend);
        double[] Values(string name) { var s = slots.Single(q => q.Name == name); return theta[s.Offset..(s.Offset + s.Length)]; }
        Tensor<double> P(string name, int rows, int cols) => leaves.Make(name, rows, cols, Values(name));
        int width = shared.FeatureWidth(0);
        var tower = new Dictionary<string, (Tensor<double> W, Tensor<double> B, Tensor<double> HeadW, Tensor<double> HeadB)>();
        foreach (var task in new[] { "ctr", "cvr" })
            tower[task] = (P($"towers.{task}.0.weight", Tower, width), P($"towers.{task}.0.bias", 1, Tower),
                           P($"heads.{task}.weight", 1, Tower), P($"heads.{task}.bias", 1, 1));
        var wd = Values("towers.dwell.0.weight");                                  // [5 × (width + 1)]: width columns for h, 1 for σ(z_ctr)
        int cols = shared.FeatureWidth(2) + 1;
        var wh = leaves.Make("towers.dwell.0.weight[:, :h]", Tower, cols - 1, [.. Enumerable.Range(0, Tower * (cols - 1)).Select(i => wd[i / (cols - 1) * cols + i % (cols - 1)])]);
        var wa = leaves.Make("towers.dwell.0.weight[:, h]", Tower, 1, [.. Enumerable.Range(0, Tower).Select(r => wd[r * cols + cols - 1])]);
        var (bd, hd, hdb) = (P("towers.dwell.0.bias", 1, Tower), P("heads.dwell.weight", 1, Tower), P("heads.dwell.bias", 1, 1));
        var x = leaves.Make("x", Batch, Features, Inputs, requiresGrad: false);
        var y = leaves.Make("dwell", Batch, 1, Dwell, requiresGrad: false);
        using var clickLabels = backend.Allocate<int>(Clicks);          // with missing labels (EsmmNet's)
        using var conversionLabels = backend.Allocate<int>(Conversions);
        var (click, conversion) = (new Labels(clickLabels.View), new Labels(conversionLabels.View));

        using var tape = new Tape<double>(backend);
        var features = new Tensor<double>[readers.Length];
        var boundary = new Tensor<double>[shared.BoundaryCount];
        shared.Forward(tape, x, features, boundary);
        Tensor<double> Logit(string task, Tensor<double> h) =>
            tape.Linear(tape.Linear(h, tower[task].W, tower[task].B, Activation.Relu), tower[task].HeadW, tower[task].HeadB);
        var zCtr = Logit("ctr", features[0]);
        var zCvr = Logit("cvr", features[1]);
        var zDwell = tape.Linear(tape.Relu(tape.Add(tape.Linear(features[2], wh, bd), tape.Linear(tape.Sigmoid(zCtr), wa, null))), hd, hdb);
        var lCtr = tape.MaskedBinaryCrossEntropy(zCtr, click);
        var lCtcvr = tape.MaskedProbabilityCrossEntropy(tape.Product(tape.Sigmoid(zCtr), tape.Sigmoid(zCvr)), conversion);
        var lDwell = tape.Mse(zDwell, y);
        using var cvrLabelBuffer = backend.Allocate<int>(cvrLabels ?? Clicks);
        var lCvr = cvrLabels is null ? null : tape.MaskedBinaryCrossEntropy(zCvr, new Labels(cvrLabelBuffer.View));
        Tensor<double> Weighted(Tensor<double> l, int t) => lambda is null ? l : tape.Scale(l, lambda[t]);
        var total = tape.Add(tape.Add(Weighted(lCtr, 0), Weighted(lCtcvr, 2)), Weighted(lDwell, 3));
        if (lCvr is not null) total = tape.Add(total, Weighted(lCvr, 1));
        int[] taskOf = [0, 1, 3];                                                          // readers[j] is head taskOf[j]
        for (int j = 0; j < readers.Length; j++)
            if (shared.Regularizer(j) is { } r) total = tape.Add(total, Weighted(r, taskOf[j])); // DSelect-k's entropy terms (§17.5), λₜ·Rₜ
        tape.Backward(total);

        var gradient = new double[theta.Length];
        var flatGradient = backend.ToArray(flat.Gradients);
        foreach (var slot in flat.Slots)
            Array.Copy(flatGradient, slot.Offset, gradient, slots.Single(q => q.Name == slot.Name).Offset, slot.Length);
        void Put(string name, Tensor<double> p) { var s = slots.Single(q => q.Name == name); backend.ToArray(p.Grad).CopyTo(gradient, s.Offset); }
        foreach (var (task, t) in tower)
        {
            Put($"towers.{task}.0.weight", t.W); Put($"towers.{task}.0.bias", t.B);
            Put($"heads.{task}.weight", t.HeadW); Put($"heads.{task}.bias", t.HeadB);
        }
        Put("towers.dwell.0.bias", bd); Put("heads.dwell.weight", hd); Put("heads.dwell.bias", hdb);
        var (gh, ga) = (backend.ToArray(wh.Grad), backend.ToArray(wa.Grad));
        int at = slots.Single(q => q.Name == "towers.dwell.0.weight").Offset;
        for (int r = 0; r < Tower; r++)
        {
            for (int j = 0; j < cols - 1; j++) gradient[at + r * cols + j] = gh[r * (cols - 1) + j];
            gradient[at + r * cols + cols - 1] = ga[r];
        }
        // Every slot of the model came from the shared part or from a leaf written here.
        string[] written = [.. tower.Keys.SelectMany(t => new[] { $"towers.{t}.0.weight", $"towers.{t}.0.bias", $"heads.{t}.weight", $"heads.{t}.bias" }),
            "towers.dwell.0.weight", "towers.dwell.0.bias", "heads.dwell.weight", "heads.dwell.bias"];
        Assert.Equal(slots.Select(s => s.Name).Order(StringComparer.Ordinal), flat.Slots.Select(s => s.Name).Concat(written).Order(StringComparer.Ordinal));
        return ([backend.Read(lCtr.Data), lCvr is null ? 0 : backend.Read(lCvr.Data), backend.Read(lCtcvr.Data), backend.Read(lDwell.Data)], gradient);
    }
}
