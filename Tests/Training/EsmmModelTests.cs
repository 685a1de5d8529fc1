using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// ESMM in the model (docs/maths.md §17.6): <see cref="ModelSpec.Graph"/> = <c>TaskGraph.Esmm("ctcvr", "ctr", "cvr")</c> on
/// a shared bottom with towers. The product task has no parameters and predicts σ(z_ctr)·σ(z_cvr) (rtol 1e-6 against the
/// factors' own predictions); one full-batch SGD step on every float32 device (SIMD CPU, ILGPU CPU accelerator) of <see cref="TrainingStep"/> (float32, loss L_ctr + L_ctcvr, the
/// CVR task without labels in the data) moves every parameter as θ − η∇ of the same losses computed in float64 on the
/// tape by <see cref="EsmmNet"/> from the same weights (abs 2e-6); the spec's JSON and a checkpoint keep the graph (the
/// loaded model predicts the same); a cycle or an unknown task is refused naming it; a per-task gradient method runs over
/// the two tasks with a loss.
/// </summary>
public class EsmmModelTests
{
    private static readonly Engine.Kernels.Cpu.CpuBackend<float> Cpu = new();

    private static ModelSpec Spec(TaskGraph? graph = null) =>
        new(EsmmNet.Features, [6], [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr")])
        {
            Tower = [5],
            Graph = graph ?? TaskGraph.Esmm("ctcvr", "ctr", "cvr"),
            Seed = 9,
        };

    private static TrainingData Data() =>
        new(Tolerance.ToFloat(EsmmNet.Inputs), EsmmNet.Features,
            [TaskData.Binary("ctr", EsmmNet.ClickLabels), TaskData.Binary("ctcvr", EsmmNet.ConversionLabels)]);

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_product_task_has_no_parameters_and_predicts_the_product_of_its_factors(string device)
    {
        using var model = MultiTaskModel.Create(Spec(), TestDevices.Get(device));
        Assert.DoesNotContain(model.Parameters.Slots, s => s.Name.Contains("ctcvr"));
        Assert.Equal(["trunk.0", "towers.ctr.0", "heads.ctr", "towers.cvr.0", "heads.cvr"],
            model.Parameters.Slots.Select(s => s.Name[..s.Name.LastIndexOf('.')]).Distinct());
        Assert.Equal(0, model.TaskRange(2).Length);
        var predictions = model.Predict(Tolerance.ToFloat(EsmmNet.Inputs), EsmmNet.Batch);
        var ctr = predictions["ctr"].Probabilities!;
        var cvr = predictions["cvr"].Probabilities!;
        var ctcvr = predictions["ctcvr"];
        var expected = ctr.Zip(cvr, (a, b) => (double)a * b).ToArray();
        Tolerance.AllClose(expected, Tolerance.ToDouble(ctcvr.Probabilities!), 1e-6, 0, "pCTCVR = pCTR·pCVR");
        Assert.Equal(ctcvr.Values, ctcvr.Probabilities);
        Assert.Equal(ctcvr.Probabilities!.Select(p => p > 0.5f ? 1 : 0), ctcvr.Classes!);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void One_sgd_step_follows_the_float64_gradient_of_both_losses(string device)
    {
        using var model = MultiTaskModel.Create(Spec(), TestDevices.Get(device));
        var before = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        using var data = DeviceDataset.Upload(model, Data());
        const double lr = 0.1;
        using var step = new TrainingStep(model, new StepOptions { Optimizer = OptimizerKind.Sgd, LearningRate = lr }, EsmmNet.Batch);
        step.Run(data, 0, EsmmNet.Batch);
        var after = Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Values));
        var losses = model.Backend.ToArray(step.TaskLosses);

        using var net = new EsmmNet(TestDevices.Reference, before);
        Assert.Equal(model.Parameters.Slots.Select(s => s.Name), net.Parameters.Slots.Select(s => s.Name));
        using var tape = new Tape<double>(net.Backend);
        net.Backend.Fill(net.Parameters.Gradients, 0);
        var (l, _, _) = net.Forward(tape);
        tape.Backward(tape.Add(l[0], l[1]));
        var gradient = net.Backend.ToArray(net.Parameters.Gradients);
        var expected = before.Select((v, i) => v - lr * gradient[i]).ToArray();
        Tolerance.AllClose([net.Backend.Read(l[0].Data), 0, net.Backend.Read(l[1].Data)], Tolerance.ToDouble(losses), 1e-5, 1e-6, "task losses (cvr: none)");
        Tolerance.AllClose(expected, after, 0, 2e-6, "θ after one SGD step");
        // The CVR tower moved (the CTCVR loss reaches it), though "cvr" has no label anywhere.
        var (offset, length) = model.TaskRange(1);
        Assert.Contains(Enumerable.Range(offset, length), i => after[i] != before[i]);
    }

    [Fact]
    public void The_graph_survives_json_and_a_checkpoint()
    {
        var spec = Spec();
        var json = spec.ToJson();
        Assert.Contains("\"graph\":{\"products\":{\"ctcvr\":[\"ctr\",\"cvr\"]}", json);
        Assert.Equal(spec, ModelSpec.FromJson(json));
        using var model = MultiTaskModel.Create(spec, Cpu);
        var path = Path.Combine(Path.GetTempPath(), $"esmm-{Guid.NewGuid():N}.safetensors");
        try
        {
            model.Save(path);
            using var loaded = MultiTaskModel.Load(path, Cpu);
            Assert.Equal(["ctcvr"], loaded.Spec.Graph!.Products.Keys);
            var x = Tolerance.ToFloat(EsmmNet.Inputs);
            Assert.Equal(model.Predict(x, EsmmNet.Batch)["ctcvr"].Values, loaded.Predict(x, EsmmNet.Batch)["ctcvr"].Values);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_cycle_or_an_unknown_task_is_refused_naming_it()
    {
        var cycle = new TaskGraph { Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "cvr"], ["ctr"] = ["ctcvr", "cvr"] } };
        var error = Assert.Throws<ArgumentException>(() => Spec(cycle).Validate());
        Assert.Contains("cycle: ctr → ctcvr → ctr", error.Message);
        var unknown = new TaskGraph { Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "clicks"] } };
        Assert.Contains("'clicks' is not a task", Assert.Throws<ArgumentException>(() => Spec(unknown).Validate()).Message);
    }

    /// <summary>PCGrad beside the loss-free factor: one row per task with a loss (ctr, ctcvr), cvr's block in the shared block,
    /// reached by ctcvr's row only (numbers against float64: <see cref="NoLossPerTaskTests"/>).</summary>
    [Fact]
    public void Per_task_gradient_methods_run_over_the_tasks_with_a_loss()
    {
        using var model = MultiTaskModel.Create(Spec(), Cpu);
        using var data = DeviceDataset.Upload(model, Data());
        using var step = new TrainingStep(model, new StepOptions { Combination = CombinationMethod.PcGrad }, EsmmNet.Batch);
        step.Run(data, 0, EsmmNet.Batch);
        int s = model.SharedParameters.Length;
        var rows = Cpu.ToArray(step.TaskGradients);
        Assert.Equal(2 * s, rows.Length);
        var (offset, length) = model.TaskRange(1);
        Assert.True(model.IsTrainedByOthers(1) && offset + length <= s);
        Assert.All(rows[offset..(offset + length)], v => Assert.Equal(0, v));                 // L_ctr does not reach cvr's block
        Assert.Contains(rows[(s + offset)..(s + offset + length)], v => v != 0);              // L_ctcvr does
    }
}
