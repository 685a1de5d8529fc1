using Engine.Autodiff;
using Engine.Data;
using Engine.Export;
using Engine.Kernels;
using Engine.Tests.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Engine.Tests.Export;

/// <summary>
/// The exported ONNX file, run by ONNX Runtime (CPU), gives what <see cref="MultiTaskModel.Predict"/> gives on the same
/// rows, for every architecture (shared bottom, MMoE, OMoE, CGC, PLE, cross-stitch, DSelect-k) and every task kind:
/// regression values (k = 1 and k = 2), classification logits and probabilities; with and without the scaling in the graph.
/// DSelect-k's gates get weights that put code logits on both sides of the smooth-step's band (and, in one case, all
/// outside it), checked on the rows used. Bound: |onnx − engine| ≤ 1e-5·max(1, |engine|)
/// per element (float32 throughout; the two differ only in summation order and in rounding μ, σ to float32); the largest
/// difference seen is written to the test output.
/// </summary>
public sealed class OnnxExportTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly TempDirectory _dir = new();
    private readonly Backend<float> _backend = Device.Create("cpu");

    public void Dispose()
    {
        _backend.Dispose();
        _dir.Dispose();
    }

    /// <summary>Every architecture on main (by name) with the model shapes tested on it.</summary>
    public static TheoryData<string, bool> Cases() => new()
    {
        { "shared-bottom", false },
        { "shared-bottom", true },
        { "shared-bottom-towers", false },
        { "shared-bottom-towers", true },
        { "mmoe", false },
        { "mmoe", true },
        { "omoe", false },
        { "omoe-towers", true },
        { "cgc", false },
        { "cgc", true },
        { "ple", false },
        { "ple-3-levels", true },
        { "cross-stitch", false },
        { "cross-stitch-towers", true },
        { "binary", true },
        { "shared-bottom-layer-norm-towers", true },
        { "mmoe-layer-norm", false },
        { "ple-layer-norm", true },
        { "cross-stitch-layer-norm", false },
        { "dselect-k", false },
        { "dselect-k", true },
        { "dselect-k-8-experts-towers", true },
        { "dselect-k-2-experts-binary", false },
        { "dselect-k-saturated", false },
        { "dselect-k-saturated", true },
        { "dselect-k-saturated-gamma-0.3", false },
        { "dselect-k-layer-norm", true },
    };

    private static ModelSpec Spec(string name) => name switch
    {
        "shared-bottom" => new ModelSpec(5, [16, 8], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3), TaskHead.Regression("z")])
            { Seed = 7, TrunkActivation = Activation.Tanh },
        "shared-bottom-towers" => new ModelSpec(5, [12], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 9, Tower = [6, 4], TrunkActivation = Activation.Relu, TrunkOutputActivation = Activation.Sigmoid },
        "mmoe" => new ModelSpec(5, [10, 6], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3)])
            { Seed = 11, Architecture = new MmoeArchitecture(3), TrunkActivation = Activation.Tanh },
        "omoe" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Regression("z"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 13, Architecture = new OmoeArchitecture(4) },
        "omoe-towers" => new ModelSpec(5, [8, 8], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 17, Architecture = new OmoeArchitecture(2), Tower = [5] },
        "cgc" => new ModelSpec(5, [8, 6], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3)])
            { Seed = 19, Architecture = new CgcArchitecture(Experts: 2, TaskExperts: 1), TrunkActivation = Activation.Tanh },
        "ple" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2), TaskHead.Regression("z")])
            { Seed = 23, Architecture = new PleArchitecture(Experts: 2, TaskExperts: 2, Levels: 2) },
        "ple-3-levels" => new ModelSpec(5, [6, 6], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 29, Architecture = new PleArchitecture(Experts: 1, TaskExperts: 2, Levels: 3), Tower = [4] },
        "cross-stitch" => new ModelSpec(5, [8, 6, 4], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3), TaskHead.Regression("z")])
            { Seed = 37, Architecture = new CrossStitchArchitecture(0.6), TrunkActivation = Activation.Tanh },
        "cross-stitch-towers" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 41, Architecture = new CrossStitchArchitecture(), Tower = [5] },
        // DSelect-k (E a power of 2, which the architecture requires): its gates get spread code logits (PrepareGates).
        "dselect-k" => new ModelSpec(5, [10, 6], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3), TaskHead.Regression("z")])
            { Seed = 79, Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2), TrunkActivation = Activation.Tanh },
        "dselect-k-8-experts-towers" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Classification("flag", classes: 2)])
            { Seed = 83, Architecture = new DSelectKArchitecture(Experts: 8, TopK: 3, SmoothStepGamma: 0.7), Tower = [5] },
        "dselect-k-2-experts-binary" => new ModelSpec(5, [6], [TaskHead.Regression("y"), TaskHead.Binary("flag")])
            { Seed = 89, Architecture = new DSelectKArchitecture(Experts: 2, TopK: 1, SmoothStepGamma: 2) },
        "dselect-k-saturated" => Spec("dselect-k") with { Architecture = new DSelectKArchitecture(Experts: 8, TopK: 2, SmoothStepGamma: 0.7) },
        // γ = 0.3: the float32 cubic is −6e-8 at −γ/2, so only the exported comparisons make these selectors exactly 0/1.
        "dselect-k-saturated-gamma-0.3" => Spec("dselect-k") with { Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2, SmoothStepGamma: 0.3) },
        "binary" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Binary("flag")]) { Seed = 31 }, // logit + Sigmoid
        // Layer norms (γ, β set to random values below) and dropout (the identity at inference).
        "shared-bottom-layer-norm-towers" => Spec("shared-bottom-towers") with { LayerNorm = true, Dropout = 0.3 },
        "mmoe-layer-norm" => Spec("mmoe") with { LayerNorm = true, Dropout = 0.1 },
        "ple-layer-norm" => Spec("ple-3-levels") with { LayerNorm = true },
        "cross-stitch-layer-norm" => Spec("cross-stitch") with { LayerNorm = true, Dropout = 0.2 },
        "dselect-k-layer-norm" => Spec("dselect-k") with { LayerNorm = true, Dropout = 0.1 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_runtime_matches_predict(string architecture, bool withStandardization)
    {
        var spec = Spec(architecture);
        var random = new Random(3);
        double worst = ExportRunAndCompare(spec, architecture, withStandardization, rows: 37, random,
            prepare: model => PrepareGates(model, random, saturated: architecture.Contains("saturated")),
            inspect: (model, inputs, rows) => AssertSmoothStepRegimes(model, inputs, rows, saturated: architecture.Contains("saturated")));
        TestContext.Current.TestOutputHelper?.WriteLine($"{architecture}, scaling {withStandardization}: max |onnx − engine| = {worst:E2}");
    }

    /// <summary>Ordered tasks (maths §17.6, §17.7) on every shared part: ESMM's product (its output is p = σ(z_ctr)·σ(z_cvr),
    /// no logit), a tower reading a binary task's σ(z), a multi-class task's softmax(z), a multi-label task's σ(z) per label
    /// and a regression's value; a product of a product; a graph model whose last two inputs are embedded categories.</summary>
    public static TheoryData<string, bool> GraphCases() => new()
    {
        { "esmm-shared-bottom", false },
        { "esmm-shared-bottom", true },
        { "esmm-mmoe", false },
        { "esmm-mmoe", true },
        { "esmm-cross-stitch-tower-input", true },
        { "esmm-ple-tower-input", false },
        { "tower-reads-binary", true },
        { "tower-reads-multiclass", false },
        { "tower-reads-multiclass", true },
        { "tower-reads-regression", true },
        { "tower-reads-multiclass-cross-stitch", true },
        { "esmm-omoe", false },
        { "esmm-cgc-tower-input", true },
        { "esmm-dselect-k", false },
        { "esmm-dselect-k", true },
        { "tower-reads-multiclass-dselect-k", true },
        { "tower-reads-multilabel-and-multiclass", false },
        { "tower-reads-multilabel-and-multiclass", true },
        { "product-of-a-product", false },
        { "esmm-embeddings-mmoe", false },
        { "esmm-embeddings-mmoe", true },
    };

    private static ModelSpec GraphSpec(string name)
    {
        TaskHead[] esmm = [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr"), TaskHead.Regression("dwell")];
        var graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr");
        var readsCtr = graph with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"], ["cvr"] = ["ctr"] } };
        return name switch
        {
            "esmm-shared-bottom" => new ModelSpec(5, [8], esmm) { Seed = 43, Tower = [6], TrunkActivation = Activation.Tanh, Graph = graph },
            "esmm-mmoe" => new ModelSpec(5, [8, 6], esmm) { Seed = 47, Architecture = new MmoeArchitecture(3), Graph = graph },
            "esmm-cross-stitch-tower-input" => new ModelSpec(5, [8, 6], esmm)
                { Seed = 53, Architecture = new CrossStitchArchitecture(0.7), Tower = [5], TrunkActivation = Activation.Tanh, Graph = readsCtr },
            "esmm-ple-tower-input" => new ModelSpec(5, [6], esmm)
                { Seed = 59, Architecture = new PleArchitecture(Experts: 2, TaskExperts: 1, Levels: 2), Graph = readsCtr },
            "tower-reads-binary" => new ModelSpec(5, [8], [TaskHead.Binary("flag"), TaskHead.Regression("y", outputs: 2)])
                { Seed = 61, Tower = [4], Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["y"] = ["flag"] } } },
            "tower-reads-multiclass" => new ModelSpec(5, [8], [TaskHead.Regression("y"), TaskHead.Classification("kind", classes: 3), TaskHead.Binary("flag")])
                { Seed = 67, Tower = [6, 4], TrunkActivation = Activation.Tanh,
                  Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["y"] = ["kind", "flag"], ["flag"] = ["kind"] } } },
            "tower-reads-regression" => new ModelSpec(5, [8], [TaskHead.Regression("y", outputs: 2), TaskHead.Classification("kind", classes: 3)])
                { Seed = 71, Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["kind"] = ["y"] } } },   // no tower: the output layer reads [h | y]
            "tower-reads-multiclass-cross-stitch" => new ModelSpec(5, [8, 6], [TaskHead.Classification("kind", classes: 3), TaskHead.Regression("y")])
                { Seed = 73, Architecture = new CrossStitchArchitecture(), Tower = [5],
                  Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["y"] = ["kind"] } } },
            "esmm-omoe" => new ModelSpec(5, [8], esmm) { Seed = 97, Architecture = new OmoeArchitecture(3), Tower = [4], Graph = graph },
            "esmm-cgc-tower-input" => new ModelSpec(5, [8, 6], esmm)
                { Seed = 101, Architecture = new CgcArchitecture(Experts: 2, TaskExperts: 1), TrunkActivation = Activation.Tanh, Graph = readsCtr },
            "esmm-dselect-k" => new ModelSpec(5, [8], esmm)
                { Seed = 103, Architecture = new DSelectKArchitecture(Experts: 4, TopK: 2), Tower = [5], Graph = readsCtr },
            "tower-reads-multiclass-dselect-k" => GraphSpec("tower-reads-multiclass") with { Seed = 107, Architecture = new DSelectKArchitecture(Experts: 8, TopK: 2) },
            "tower-reads-multilabel-and-multiclass" => new ModelSpec(5, [8],
                    [TaskHead.MultiLabel("tags", labels: 3), TaskHead.Classification("kind", classes: 3), TaskHead.Regression("y", outputs: 2)])
                { Seed = 109, Tower = [6], TrunkActivation = Activation.Tanh,
                  Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["y"] = ["tags", "kind"], ["kind"] = ["tags"] } } },
            // p_abc = p_ab·p_c with p_ab = p_a·p_b: a product read by a product (TaskGraph allows it).
            "product-of-a-product" => new ModelSpec(5, [8], [TaskHead.Binary("a"), TaskHead.Binary("b"), TaskHead.Binary("c"), TaskHead.Binary("ab"), TaskHead.Binary("abc")])
                { Seed = 113, Architecture = new MmoeArchitecture(2),
                  Graph = new TaskGraph { Products = new Dictionary<string, string[]> { ["ab"] = ["a", "b"], ["abc"] = ["ab", "c"] } } },
            // the last two inputs are category indices (EmbeddingOnnx's Gather), the first three numeric
            "esmm-embeddings-mmoe" => new ModelSpec(5, [8], esmm)
                { Seed = 127, Architecture = new MmoeArchitecture(2), Tower = [4], Graph = readsCtr, Embeddings = [new("u", 5, 3), new("v", 3, 2)] },
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    [Theory]
    [MemberData(nameof(GraphCases))]
    public void Onnx_runtime_matches_predict_with_ordered_tasks(string graph, bool withStandardization)
    {
        var random = new Random(5);
        double worst = ExportRunAndCompare(GraphSpec(graph), graph, withStandardization, rows: 41, random,
            prepare: model => PrepareGates(model, random, saturated: false));
        TestContext.Current.TestOutputHelper?.WriteLine($"{graph}, scaling {withStandardization}: max |onnx − engine| = {worst:E2}");
    }

    /// <summary>
    /// The one setup both theories share: <paramref name="rows"/> random rows (embedded columns: random indices, the reserved
    /// one included), exported with or without the scaling, run by ONNX Runtime and compared with <see cref="MultiTaskModel.Predict"/>
    /// output by output, in the documented order (<see cref="OnnxExport.OutputNames"/>); a product task's p also against the
    /// product of its factors' exported probabilities (rtol 1e-6). Layer norms' γ, β get random values first (a graph that
    /// skipped them would fail), then <paramref name="prepare"/> runs. Returns the largest |onnx − engine|.
    /// </summary>
    private double ExportRunAndCompare(ModelSpec spec, string file, bool withStandardization, int rows, Random random,
        Action<MultiTaskModel>? prepare = null, Action<MultiTaskModel, float[], int>? inspect = null)
    {
        using var model = MultiTaskModel.Create(spec, _backend);
        foreach (var slot in model.Parameters.Slots.Where(p => p.Name.Contains(".norm.")))
            model.WriteParameter(slot.Name, [.. Enumerable.Range(0, slot.Length).Select(_ => (float)(random.NextDouble() + (slot.Name.EndsWith(".weight") ? 0.5 : -0.5)))]);
        prepare?.Invoke(model);
        var raw = new float[rows * spec.Inputs];
        int numeric = spec.Inputs - spec.EmbeddedColumns.Count;
        for (int i = 0; i < raw.Length; i++)
            raw[i] = i % spec.Inputs < numeric ? (float)(random.NextDouble() * 20 - 5) : random.Next(spec.EmbeddedColumns[i % spec.Inputs - numeric].Categories + 1);
        var scale = Scale(spec, random);

        var path = _dir.File_($"{file}.onnx");
        model.ExportOnnx(path, new OnnxExportOptions { Standardization = withStandardization ? scale : null });
        // The engine's answer: standardize on the host, Predict, and undo the target scaling (when the graph has it).
        var z = (float[])raw.Clone();
        if (withStandardization) scale.Inputs.Transform(z);
        var expected = model.Predict(z, rows);
        inspect?.Invoke(model, z, rows);

        using var session = new InferenceSession(path);
        Assert.Equal([OnnxExport.InputName], session.InputMetadata.Keys);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, new DenseTensor<float>(raw, [rows, spec.Inputs]))]);
        var outputs = results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
        Assert.Equal(Enumerable.Range(0, spec.Heads.Count).SelectMany(t => OnnxExport.OutputNames(spec, t)), results.Select(r => r.Name));
        double worst = 0;
        for (int t = 0; t < spec.Heads.Count; t++)
        {
            var head = spec.Heads[t];
            var p = expected[head.Name];
            if (spec.IsProduct(t))
            {
                Assert.False(outputs.ContainsKey(OnnxExport.OutputName(head)));   // a product has no logit
                worst = Math.Max(worst, Compare(p.Values, outputs[OnnxExport.ProbabilitiesName(head)], head.Name + " p"));
                // and p is the product of the factors' probabilities, as the exported file reports them (rtol 1e-6)
                var factors = spec.Graph!.Products[head.Name].Select(f => outputs[f + ".probabilities"]).ToArray();
                for (int r = 0; r < rows; r++)
                {
                    double product = factors.Aggregate(1.0, (acc, f) => acc * f[r]);
                    Assert.True(Math.Abs(product - outputs[head.Name + ".probabilities"][r]) <= 1e-6 * product, $"{head.Name}[{r}]");
                }
                continue;
            }
            var values = (float[])p.Values.Clone();
            if (head.Kind == TaskKind.Regression && withStandardization) scale.InverseTargets(head.Name, values);
            worst = Math.Max(worst, Compare(values, outputs[OnnxExport.OutputName(head)], head.Name));
            if (head.Kind != TaskKind.Regression)
                worst = Math.Max(worst, Compare(p.Probabilities!, outputs[OnnxExport.ProbabilitiesName(head)], head.Name + " probabilities"));
        }
        return worst;
    }

    /// <summary>
    /// DSelect-k's gates start with every code logit near 0 (S ≈ ½, q ≈ 1/E: a graph that ignored the selectors would
    /// still nearly pass). Here Z gets U(±0.1γ) and b_z U(±γ), so on these rows some logits are inside the band (the cubic)
    /// and some outside (S = 0 or 1), and W, b_w get U(±1) so α is far from uniform; <paramref name="saturated"/>: Z = 0 and
    /// b_z = ±(γ/2 + U(0, γ)), every S exactly 0 or 1, each selector one-hot. Other architectures: untouched.
    /// </summary>
    private static void PrepareGates(MultiTaskModel model, Random random, bool saturated)
    {
        if (model.Spec.Architecture is not DSelectKArchitecture dselect) return;
        double gamma = dselect.SmoothStepGamma;
        float Uniform(double bound) => (float)((random.NextDouble() * 2 - 1) * bound);
        foreach (var slot in model.Parameters.Slots.Where(p => p.Name.StartsWith("gates.", StringComparison.Ordinal)))
        {
            var values = new float[slot.Length];
            for (int i = 0; i < values.Length; i++)
                values[i] = slot.Name.EndsWith(".z.weight") ? (saturated ? 0 : Uniform(0.1 * gamma))
                    : slot.Name.EndsWith(".z.bias") ? (saturated ? (float)((random.Next(2) * 2 - 1) * (gamma / 2 + random.NextDouble() * gamma)) : Uniform(gamma))
                    : Uniform(1);
            model.WriteParameter(slot.Name, values);
        }
    }

    /// <summary>The regime the DSelect-k cases claim, checked on the rows the model saw (z = Z·x + b_z in float64 from the
    /// written weights): saturated, every |z| ≥ γ/2; otherwise between 10 % and 90 % of the logits outside the band.</summary>
    private static void AssertSmoothStepRegimes(MultiTaskModel model, float[] inputs, int rows, bool saturated)
    {
        if (model.Spec.Architecture is not DSelectKArchitecture dselect) return;
        int d = model.Spec.SharedInputs, outside = 0, all = 0;
        foreach (var head in model.Spec.Heads)
        {
            var w = model.ReadParameter($"gates.{head.Name}.z.weight");
            var b = model.ReadParameter($"gates.{head.Name}.z.bias");
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < b.Length; o++)
                {
                    double z = b[o];
                    for (int j = 0; j < d; j++) z += (double)w[o * d + j] * inputs[r * d + j];
                    all++;
                    if (Math.Abs(z) >= dselect.SmoothStepGamma / 2) outside++;
                }
        }
        if (saturated) Assert.Equal(all, outside);
        else Assert.InRange(outside / (double)all, 0.1, 0.9);
    }

    [Fact]
    public void The_file_declares_opset_17_and_the_documented_names()
    {
        var spec = Spec("shared-bottom");
        using var model = MultiTaskModel.Create(spec, _backend);
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        var proto = Onnx.ModelProto.Parser.ParseFrom(stream.ToArray());
        Assert.Equal(OnnxExport.Opset, proto.OpsetImport.Single().Version);
        Assert.Equal(8, proto.IrVersion);
        Assert.Equal(["features"], proto.Graph.Input.Select(i => i.Name));
        Assert.Equal(["y", "kind.logits", "kind.probabilities", "z"], proto.Graph.Output.Select(o => o.Name));
        Assert.Equal("batch", proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(5, proto.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal(spec, ModelSpec.FromJson(proto.MetadataProps.Single(m => m.Key == "engine.config").Value));
    }

    [Fact]
    public void A_scaling_of_the_wrong_width_is_refused_naming_it()
    {
        using var model = MultiTaskModel.Create(Spec("shared-bottom"), _backend);
        var wrong = new Standardization(Standardizer.Identity(4), new Dictionary<string, Standardizer>());
        var e = Assert.Throws<ArgumentException>(() => model.ExportOnnx(new MemoryStream(), new OnnxExportOptions { Standardization = wrong }));
        Assert.Contains("scales 4 inputs but the model takes 5", e.Message);
    }

    /// <summary>|a − b| ≤ tol·max(1, |a|) elementwise; returns the largest |a − b|.</summary>
    private static double Compare(float[] engine, float[] onnx, string what)
    {
        Assert.Equal(engine.Length, onnx.Length);
        double worst = 0;
        for (int i = 0; i < engine.Length; i++)
        {
            double d = Math.Abs(engine[i] - (double)onnx[i]);
            worst = Math.Max(worst, d);
            Assert.True(d <= Tolerance * Math.Max(1, Math.Abs(engine[i])), $"{what}[{i}]: engine {engine[i]:R}, onnx {onnx[i]:R}");
        }
        return worst;
    }

    /// <summary>A scaling with μ and σ far from 0 and 1, so a graph that ignored it would fail.</summary>
    private static Standardization Scale(ModelSpec spec, Random random)
    {
        Standardizer Make(int width) => new(
            [.. Enumerable.Range(0, width).Select(_ => random.NextDouble() * 10 - 3)],
            [.. Enumerable.Range(0, width).Select(_ => 0.5 + random.NextDouble() * 4)]);
        var targets = spec.Heads.Where(h => h.Kind == TaskKind.Regression).ToDictionary(h => h.Name, h => Make(h.Outputs));
        var inputs = Make(spec.Inputs - spec.EmbeddedColumns.Count);   // an embedded column's index is not scaled (μ 0, σ 1)
        return new Standardization(new Standardizer([.. inputs.Mean, .. spec.EmbeddedColumns.Select(_ => 0.0)],
            [.. inputs.Std, .. spec.EmbeddedColumns.Select(_ => 1.0)]), targets);
    }
}

/// <summary><c>mtl export</c> on a model <c>mtl train --save</c> wrote: raw CSV rows in, what <c>mtl predict</c> computes out.</summary>
public sealed class OnnxExportCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>On the default shared bottom and on a DSelect-k checkpoint (<c>--arch dselect-k</c>, its gates trained).</summary>
    [Theory]
    [InlineData("shared-bottom", new string[0])]
    [InlineData("dselect-k", new[] { "--arch", "dselect-k", "--experts", "4", "--top-k", "2", "--smooth-step-gamma", "0.5", "--entropy-reg", "0.01", "--expert-hidden", "8" })]
    public void Mtl_export_with_standardization_takes_raw_rows_and_gives_original_units(string architecture, string[] flags)
    {
        var csv = _dir.Write("train.csv", Engine.Tests.Cli.Mtl.SyntheticCsv());
        var model = _dir.File_("m.safetensors");
        var onnx = _dir.File_("m.onnx");
        var train = Engine.Tests.Cli.Mtl.Run([.. Engine.Tests.Cli.Mtl.SyntheticTrainFlags(csv), .. flags, "--save", model]);
        Assert.True(train.ExitCode == 0, train.ToString());
        var (saved, expected, outputs, _) = ExportAndRun(csv, model, onnx, "outputs 'y', 'label.logits', 'label.probabilities'");
        Assert.Equal(architecture, saved);   // the checkpoint is the architecture this case claims
        var y = expected.Single(o => o.Task == "y").Values!;
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - outputs["y"][i]) <= 1e-5 * Math.Max(1, Math.Abs(y[i])), $"y[{i}]: {y[i]} vs {outputs["y"][i]}");
        var p = expected.Single(o => o.Task == "label").Probabilities!;
        for (int i = 0; i < p.Length; i++)
            Assert.True(Math.Abs(p[i] - outputs["label.probabilities"][i]) <= 1e-5, $"P[{i}]: {p[i]} vs {outputs["label.probabilities"][i]}");
    }

    /// <summary>ESMM trained by <c>mtl train --task-product … --no-loss … --task-input …</c>: the exported file gives every task's
    /// probability as <c>mtl predict</c> computes it (|Δ| ≤ 1e-5), the product task as <c>ctcvr.probabilities</c> alone.</summary>
    [Fact]
    public void Mtl_export_of_an_esmm_checkpoint_gives_what_predict_gives()
    {
        var csv = _dir.Write("clicks.csv", Engine.Tests.Cli.EsmmCliTests.ClickCsv());
        var model = _dir.File_("esmm.safetensors");
        var onnx = _dir.File_("esmm.onnx");
        var train = Engine.Tests.Cli.Mtl.Run("train", "--data", csv, "--binary", "click,conversion,ctcvr", "--task-product", "ctcvr=click*conversion",
            "--no-loss", "conversion", "--task-input", "conversion=click", "--hidden", "8", "--tower", "6", "--epochs", "3", "--batch-size", "16",
            "--seed", "5", "--save", model);
        Assert.True(train.ExitCode == 0, train.ToString());
        var (_, expected, outputs, rows) = ExportAndRun(csv, model, onnx,
            "outputs 'click.logits', 'click.probabilities', 'conversion.logits', 'conversion.probabilities', 'ctcvr.probabilities';");
        foreach (var task in new[] { "click", "conversion", "ctcvr" })
        {
            var p = expected.Single(o => o.Task == task).Probabilities!;   // [P(0), P(1)] per row
            var q = outputs[task + ".probabilities"];                       // σ(z) = P(1), or the product's p
            Assert.Equal(2 * rows, p.Length);
            Assert.Equal(rows, q.Length);
            for (int i = 0; i < q.Length; i++) Assert.True(Math.Abs(p[2 * i + 1] - q[i]) <= 1e-5, $"{task} P[{i}]: {p[2 * i + 1]} vs {q[i]}");
        }
    }

    /// <summary>
    /// <c>mtl export --with-standardization</c> of the saved <paramref name="model"/> (its stderr must name
    /// <paramref name="outputsLine"/>), then the CSV's raw rows through what <c>mtl predict</c> computes
    /// (<c>ModelEvaluation.PredictOriginalUnits</c>) and through ONNX Runtime: the checkpoint's architecture, both answers
    /// and the row count.
    /// </summary>
    private static (string Architecture, IReadOnlyList<Engine.Experiments.TaskOutput> Expected, Dictionary<string, float[]> Outputs, int Rows)
        ExportAndRun(string csv, string model, string onnx, string outputsLine)
    {
        var r = Engine.Tests.Cli.Mtl.Run("export", "--model", model, "--onnx", onnx, "--with-standardization");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(outputsLine, r.Error);

        using var backend = Device.Create("cpu");
        using var loaded = MultiTaskModel.Load(model, backend);
        var meta = loaded.Metadata!;
        var raw = CsvTable.Load(csv, meta.Schema!.InputsOnly(), null, meta.Encoding);
        var expected = Engine.Experiments.ModelEvaluation.PredictOriginalUnits(loaded, raw, meta.Standardization!, meta.Encoding!);
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName,
            new DenseTensor<float>(raw.Inputs.ToArray(), [raw.RowCount, raw.InputCount]))]);
        return (Architecture.Of(loaded.Spec).Name, expected, results.ToDictionary(o => o.Name, o => o.AsTensor<float>().ToArray()), raw.RowCount);
    }

    [Fact]
    public void Mtl_export_of_a_missing_model_is_bad_input()
    {
        Engine.Tests.Cli.Mtl.AssertFails(Engine.Tests.Cli.Mtl.Run("export", "--model", _dir.File_("none.safetensors"), "--onnx", _dir.File_("x.onnx")),
            Engine.Cli.ExitCodes.BadInput, "none.safetensors");
    }
}
