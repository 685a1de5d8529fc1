using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Towers that read another task's prediction (<see cref="TaskGraph.Inputs"/>, docs/maths.md §17.7): a shared trunk
/// (4 → 6 ReLU), task "click" (binary; tower 6 → 5 ReLU → 1) and task "dwell" (regression) whose tower reads
/// [h | σ(z_click)] (7 → 5 ReLU → 1). One full-batch SGD step (η = 0.1, float32, on the SIMD CPU path and ILGPU's CPU
/// accelerator) of <see cref="TrainingStep"/> (L_click + L_dwell) moves every parameter as θ − η∇ computed in float64 on the
/// tape from the same weights by an independent reference that never concatenates: dwell's first layer is split into its
/// columns for h and for σ(z_click), y = h·W_hᵀ + σ(z_click)·w_aᵀ + b (abs 2e-6; the losses rtol 1e-5, the predictions abs
/// 1e-5). End to end (the default), L_dwell's gradient reaches the click tower and output layer (checked non-zero in the
/// reference); detached, σ(z_click) enters the reference as a constant and the step matches that. The spec's JSON and a
/// checkpoint keep the inputs (same predictions after loading); a task reading itself and a loss-free task read only
/// detached are refused naming them (a multi-class source is accepted: GraphArchitectureTests).
/// </summary>
public class TowerInputModelTests
{
    private const int Batch = 8, Features = 4;
    private static readonly int[] Clicks = [1, 0, 1, 1, 0, 0, 1, 0];
    private static double[] Inputs => Tolerance.Random(Batch * Features, 91, -2, 2);
    private static double[] Dwell => Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(Batch, 92, -1, 1)));

    private static ModelSpec Spec(bool detach = false) =>
        new(Features, [6], [TaskHead.Binary("click"), TaskHead.Regression("dwell")])
        {
            Tower = [5],
            Graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["click"] }, DetachInputs = detach },
            Seed = 13,
        };

    private static TrainingData Data() =>
        new(Tolerance.ToFloat(Inputs), Features, [TaskData.Binary("click", Clicks), TaskData.Regression("dwell", Tolerance.ToFloat(Dwell))]);

    [Theory]
    [MemberData(nameof(TestDevices.Float32WithSwitch), MemberType = typeof(TestDevices))]
    public void One_sgd_step_follows_the_float64_gradient_of_an_independent_reference(string device, bool detach)
    {
        using var model = MultiTaskModel.Create(Spec(detach), TestDevices.Get(device));
        Assert.Equal(5 * 7, model.Parameters.Slots.Single(s => s.Name == "towers.dwell.0.weight").Length); // [5 × (6 + 1)]
        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        var predicted = model.Predict(Tolerance.ToFloat(Inputs), Batch);
        using var data = DeviceDataset.Upload(model, Data());
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr }, Batch);
        step.Run(data, 0, Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        var losses = Tolerance.ToDouble(model.Backend.ToArray(step.TaskLosses));

        var slots = model.Parameters.Slots.Select(s => (s.Name, s.Offset, s.Length)).ToArray();
        var reference = Reference.Run(slots, before, detach, lossOnly: -1);
        Tolerance.AllClose(reference.Losses, losses, 1e-5, 1e-6, "task losses");
        Tolerance.AllClose(reference.Dwell, Tolerance.ToDouble(predicted["dwell"].Values), 0, 1e-5, "dwell predictions");
        Tolerance.AllClose([.. before.Select((v, i) => v - lr * reference.Gradient[i])], after, 0, 2e-6, "θ after one SGD step");

        // What L_dwell alone sends into the click task's tower and output layer: non-zero end to end, exactly 0 detached.
        var dwellOnly = Reference.Run(slots, before, detach, lossOnly: 1).Gradient;
        var (offset, length) = model.TaskRange(0);
        double norm = dwellOnly.Skip(offset).Take(length).Sum(g => g * g);
        if (detach) Assert.Equal(0, norm);
        else Assert.True(norm > 1e-8, $"‖∇_click-params L_dwell‖² = {norm}");
    }

    [Fact]
    public void The_inputs_survive_json_and_a_checkpoint()
    {
        var spec = Spec(detach: true);
        var json = spec.ToJson();
        Assert.Contains("\"inputs\":{\"dwell\":[\"click\"]}", json);
        Assert.Contains("\"detachInputs\":true", json);
        Assert.DoesNotContain("detachInputs", Spec().ToJson());
        var cpu = new Engine.Kernels.Cpu.CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        var path = Path.Combine(Path.GetTempPath(), $"towers-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using var loaded = MultiTaskModel.Load(path, cpu);
            Assert.Equal(["click"], loaded.Spec.Graph!.Inputs["dwell"]);
            Assert.True(loaded.Spec.Graph.DetachInputs);
            var x = Tolerance.ToFloat(Inputs);
            Assert.Equal(model.Predict(x, Batch)["dwell"].Values, loaded.Predict(x, Batch)["dwell"].Values);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Bad_inputs_are_refused_naming_them()
    {
        ModelSpec With(TaskGraph graph, params TaskHead[] heads) => new(Features, [6], heads) { Graph = graph };
        var classes = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["color"] } };
        With(classes, TaskHead.Classification("color", 3), TaskHead.Regression("dwell")).Validate(); // a multi-class source: accepted (GraphArchitectureTests)
        var self = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["dwell"] } };
        Assert.Contains("cycle: dwell → dwell", Assert.Throws<ArgumentException>(() => With(self, TaskHead.Regression("dwell")).Validate()).Message);
        var detachedOnly = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["click"] }, Unsupervised = ["click"], DetachInputs = true };
        Assert.Contains("'click' has no loss", Assert.Throws<ArgumentException>(() =>
            With(detachedOnly, TaskHead.Binary("click"), TaskHead.Regression("dwell")).Validate()).Message);
        var undetached = detachedOnly with { DetachInputs = false };   // trained through dwell's loss: accepted
        With(undetached, TaskHead.Binary("click"), TaskHead.Regression("dwell")).Validate();
    }

    /// <summary>The float64 reference: the same network from the same weights, dwell's first layer split by columns.</summary>
    private static class Reference
    {
        public sealed record Result(double[] Losses, double[] Dwell, double[] Gradient);

        /// <summary>Forward and backward of L_click + L_dwell (<paramref name="lossOnly"/> = −1), or of one of them.</summary>
        public static Result Run((string Name, int Offset, int Length)[] slots, double[] theta, bool detach, int lossOnly)
        {
            var backend = TestDevices.Reference;
            using var leaves = new Leaves<double>(backend);
            double[] Values(string name) { var s = slots.Single(q => q.Name == name); return theta[s.Offset..(s.Offset + s.Length)]; }
            Tensor<double> P(string name, int rows, int cols) => leaves.Make(name, rows, cols, Values(name));
            var (w0, b0) = (P("trunk.0.weight", 6, 4), P("trunk.0.bias", 1, 6));
            var (wc, bc) = (P("towers.click.0.weight", 5, 6), P("towers.click.0.bias", 1, 5));
            var (hc, hcb) = (P("heads.click.weight", 1, 5), P("heads.click.bias", 1, 1));
            var wd = Values("towers.dwell.0.weight");                                   // [5 × 7]: 6 columns for h, 1 for σ(z_click)
            var wh = leaves.Make("towers.dwell.0.weight[:, :6]", 5, 6, [.. Enumerable.Range(0, 30).Select(i => wd[i / 6 * 7 + i % 6])]);
            var wa = leaves.Make("towers.dwell.0.weight[:, 6]", 5, 1, [.. Enumerable.Range(0, 5).Select(r => wd[r * 7 + 6])]);
            var bd = P("towers.dwell.0.bias", 1, 5);
            var (hd, hdb) = (P("heads.dwell.weight", 1, 5), P("heads.dwell.bias", 1, 1));
            var x = leaves.Make("x", Batch, Features, Inputs, requiresGrad: false);
            var y = leaves.Make("dwell", Batch, 1, Dwell, requiresGrad: false);
            var labels = leaves.Labels(Clicks, 2);

            using var tape = new Tape<double>(backend);
            var h = tape.Linear(x, w0, b0, Activation.Relu);
            var zClick = tape.Linear(tape.Linear(h, wc, bc, Activation.Relu), hc, hcb);
            var pClick = tape.Sigmoid(zClick);
            if (detach) pClick = leaves.Make("σ(z_click), constant", Batch, 1, backend.ToArray(pClick.Data), requiresGrad: false);
            var towerD = tape.Relu(tape.Add(tape.Linear(h, wh, bd), tape.Linear(pClick, wa, null)));
            var zDwell = tape.Linear(towerD, hd, hdb);
            var lClick = tape.MaskedBinaryCrossEntropy(zClick, labels);
            var lDwell = tape.Mse(zDwell, y);
            tape.Backward(lossOnly switch { 0 => lClick, 1 => lDwell, _ => tape.Add(lClick, lDwell) });

            var gradient = new double[theta.Length];
            void Put(string name, Tensor<double> p) { var s = slots.Single(q => q.Name == name); backend.ToArray(p.Grad).CopyTo(gradient, s.Offset); }
            Put("trunk.0.weight", w0); Put("trunk.0.bias", b0);
            Put("towers.click.0.weight", wc); Put("towers.click.0.bias", bc);
            Put("heads.click.weight", hc); Put("heads.click.bias", hcb);
            Put("towers.dwell.0.bias", bd); Put("heads.dwell.weight", hd); Put("heads.dwell.bias", hdb);
            var (gh, ga) = (backend.ToArray(wh.Grad), backend.ToArray(wa.Grad));
            int at = slots.Single(q => q.Name == "towers.dwell.0.weight").Offset;
            for (int r = 0; r < 5; r++)
            {
                for (int j = 0; j < 6; j++) gradient[at + r * 7 + j] = gh[r * 6 + j];
                gradient[at + r * 7 + 6] = ga[r];
            }
            return new Result([backend.Read(lClick.Data), backend.Read(lDwell.Data)], backend.ToArray(zDwell.Data), gradient);
        }
    }
}
