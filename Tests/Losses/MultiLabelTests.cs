using System.Numerics;
using System.Text.Json;
using Engine.Autodiff;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels;
using Engine.Metrics;
using Engine.Tests.Autodiff;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Multi-label tasks: k logits per row, the masked binary cross-entropy with logits over the labelled (row, label) pairs
/// (the binary loss's kernels over the [rows × k] block, maths §19.8). Against PyTorch 1.13's <c>nn.BCEWithLogitsLoss</c> on
/// the labelled pairs of a linear head (Tests/Fixtures/multilabel_torch.json, made by make_multilabel_fixture.py): the loss
/// and the gradients of W, b through the tape on both float64 backends (rtol 1e-12) and on every float32 device (rtol 1e-5,
/// atol 1e-6); float64 central differences with respect to W and b; the metrics (micro precision/recall/F1, mean per-label
/// AUC, written independently in the fixture script) from <see cref="ClassificationMetrics.MultiLabel"/> and
/// <see cref="TaskScore.MultiLabel"/>; a batch with no label gives loss 0 and gradient 0.
/// </summary>
public class MultiLabelTests
{
    private sealed record Case(int Rows, int D, int K, double[] X, double[] W, double[] B, int[] Labels, double[] Z, double Loss,
        double[] Dw, double[] Db, double Precision, double Recall, double F1, double? MeanAuc);

    public static TheoryData<string> Cases => new() { "small", "many_labels", "no_missing" };

    private static Case Load(string name)
    {
        var root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("multilabel_torch.json"))).RootElement;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double[] D(string p) => [.. c.GetProperty(p).EnumerateArray().Select(v => v.GetDouble())];
        int I(string p) => c.GetProperty(p).GetInt32();
        double G(string p) => c.GetProperty(p).GetDouble();
        var auc = c.GetProperty("mean_auc");
        return new Case(I("rows"), I("d"), I("k"), D("x"), D("w"), D("b"), [.. c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32())],
            D("z"), G("loss"), D("dw"), D("db"), G("precision"), G("recall"), G("f1"), auc.ValueKind == JsonValueKind.Null ? null : auc.GetDouble());
    }

    /// <summary>loss = BCE(x·Wᵀ + b) on <paramref name="backend"/>, then its backward: (loss, dW, db).</summary>
    private static (double Loss, double[] Dw, double[] Db) Run<T>(Backend<T> backend, Case c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var leaves = new Leaves<T>(backend);
        var x = leaves.Make("x", c.Rows, c.D, c.X, requiresGrad: false);
        var w = leaves.Make("w", c.K, c.D, c.W);
        var b = leaves.Make("b", 1, c.K, c.B);
        using var labels = backend.Allocate<int>(c.Labels);                  // −1 (no label) included
        using var tape = new Tape<T>(backend);
        var loss = tape.MaskedBinaryCrossEntropy(tape.Linear(x, w, b), new Labels(labels.View));
        tape.Backward(loss);
        double[] Of(View<T> v) => [.. backend.ToArray(v).Select(e => double.CreateChecked(e))];
        return (double.CreateChecked(backend.ToArray(loss.Data)[0]), Of(w.Grad), Of(b.Grad));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64_matches_pytorch_bce_with_logits_on_the_labelled_pairs(string name)
    {
        var c = Load(name);
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
            AssertMatches(Run(backend, c), c, 1e-12, 1e-15, $"{name} on {backend.GetType().Name}");
    }

    private static void AssertMatches((double Loss, double[] Dw, double[] Db) got, Case c, double rtol, double atol, string what)
    {
        Tolerance.AllClose([c.Loss], [got.Loss], rtol, atol, $"{what}: loss");
        Tolerance.AllClose(c.Dw, got.Dw, rtol, atol, $"{what}: dW");
        Tolerance.AllClose(c.Db, got.Db, rtol, atol, $"{what}: db");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_pytorch_on_every_device(string device)
    {
        foreach (var name in new[] { "small", "many_labels", "no_missing" })
        {
            var c = Load(name);
            AssertMatches(Run(TestDevices.Get(device), c), c, 1e-5, 1e-6, $"{name} on {device}");
        }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_respect_to_the_head(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        var c = Load("small");
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Make("x", c.Rows, c.D, c.X, requiresGrad: false);
        var w = leaves.Make("w", c.K, c.D, c.W);
        var b = leaves.Make("b", 1, c.K, c.B);
        using var labels = backend.Allocate<int>(c.Labels);
        var result = GradCheck.Run(backend, tape => tape.MaskedBinaryCrossEntropy(tape.Linear(x, w, b), new Labels(labels.View)), [w, b]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(c.K * c.D + c.K, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_metrics_match_the_fixtures_own_counts(string name)
    {
        var c = Load(name);
        var z = Tolerance.ToFloat(c.Z);
        var (precision, recall, f1, auc) = ClassificationMetrics.MultiLabel(z, c.Labels, c.K);
        Tolerance.AllClose([c.Precision, c.Recall, c.F1], [precision, recall, f1], 1e-12, 0, $"{name} micro P/R/F1");
        Assert.Equal(c.MeanAuc is null, auc is null);
        if (c.MeanAuc is { } expected) Tolerance.AllClose([expected], [auc!.Value], 1e-12, 0, $"{name} mean AUC");

        var columns = Enumerable.Range(0, c.K).Select(j => $"l{j}").ToArray();
        var score = TaskScore.MultiLabel(new MultiLabelTargets("tags", columns, c.Labels), z);
        Tolerance.AllClose([c.Loss], [score.Loss], 1e-6, 0, $"{name} loss (float32 logits)");
        Assert.Equal(score.Loss, score.LogLoss);
        int labelled = c.Labels.Count(l => l >= 0), correct = c.Labels.Select((l, i) => l >= 0 && (z[i] > 0 ? 1 : 0) == l).Count(v => v);
        Assert.Equal((double)correct / labelled, score.Accuracy);
        Assert.Equal(Enumerable.Range(0, c.Rows).Count(r => c.Labels.Skip(r * c.K).Take(c.K).Any(l => l >= 0)), score.Rows);
        Assert.Equal(f1, score.F1);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_batch_with_no_label_gives_zero_loss_and_zero_gradient(string device)
    {
        var c = Load("small") with { Labels = Enumerable.Repeat(MissingLabel.Class, 24).ToArray() };
        var (loss, dw, db) = Run(TestDevices.Get(device), c);
        Assert.Equal(0, loss);
        Assert.All(dw, v => Assert.Equal(0, v));
        Assert.All(db, v => Assert.Equal(0, v));
    }
}
