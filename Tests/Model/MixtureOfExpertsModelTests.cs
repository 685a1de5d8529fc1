using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Model;

/// <summary>
/// MMoE, OMoE, CGC and PLE as models: the parameter layout (experts shared; MMoE's gates task-owned, OMoE's gate shared), the
/// forward against float64 loops written here from the stored weights (tolerance rtol 1e-5, atol 1e-6), the per-task
/// path of the training step against the single backward (float32 both, rtol 1e-5, atol 1e-7: same sums, other order),
/// and checkpoints.
/// </summary>
public class MixtureOfExpertsModelTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    private static ModelSpec Spec(Architecture architecture, int[]? tower = null) => Problems.Spec(tower: tower) with { Architecture = architecture };

    [Fact]
    public void Mmoe_layout_puts_the_experts_first_and_each_gate_in_its_tasks_block()
    {
        using var model = MultiTaskModel.Create(Spec(new MmoeArchitecture(3), tower: [4]), Cpu);
        Assert.Equal([
            ("experts.0.weight", "3,8,5"), ("experts.0.bias", "3,8"), ("experts.1.weight", "3,6,8"), ("experts.1.bias", "3,6"),
            ("gates.reg.weight", "3,5"), ("towers.reg.0.weight", "4,6"), ("towers.reg.0.bias", "4"), ("heads.reg.weight", "2,4"), ("heads.reg.bias", "2"),
            ("gates.cls.weight", "3,5"), ("towers.cls.0.weight", "4,6"), ("towers.cls.0.bias", "4"), ("heads.cls.weight", "3,4"), ("heads.cls.bias", "3")],
            model.Parameters.Slots.Select(s => (s.Name, string.Join(',', s.Shape))));
        Assert.Equal(3 * (40 + 8) + 3 * (48 + 6), model.SharedParameters.Length);
        Assert.Equal((model.SharedParameters.Length, 15 + 28 + 10), model.TaskRange(0));

        using var omoe = MultiTaskModel.Create(Spec(new OmoeArchitecture(2)), Cpu);
        Assert.Equal(["experts.0.weight", "experts.0.bias", "experts.1.weight", "experts.1.bias", "gate.weight", "heads.reg.weight", "heads.reg.bias", "heads.cls.weight", "heads.cls.bias"],
            omoe.Parameters.Slots.Select(s => s.Name));
        Assert.Equal(2 * (40 + 8) + 2 * (48 + 6) + 2 * 5, omoe.SharedParameters.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Predictions_equal_float64_loops_over_the_stored_weights(bool sharedGate)
    {
        Architecture arch = sharedGate ? new OmoeArchitecture(3) : new MmoeArchitecture(3);
        using var model = MultiTaskModel.Create(Spec(arch, tower: [4]) with { TrunkOutputActivation = Activation.Relu }, Cpu);
        var data = Problems.Data(Rows, seed: 5);
        var predicted = model.Predict(data.Inputs, Rows);
        double[] P(string name) => Tolerance.ToDouble(model.ReadParameter(name));
        var x = Tolerance.ToDouble(data.Inputs);
        int[] widths = [5, 8, 6];
        for (int t = 0; t < 2; t++)
        {
            string task = model.Spec.Heads[t].Name;
            var gw = P(sharedGate ? "gate.weight" : $"gates.{task}.weight");
            for (int r = 0; r < Rows; r++)
            {
                var xr = x.AsSpan(r * 5, 5).ToArray();
                var logits = Enumerable.Range(0, 3).Select(e => Enumerable.Range(0, 5).Sum(i => gw[e * 5 + i] * xr[i])).ToArray();
                double max = logits.Max();
                var g = logits.Select(v => Math.Exp(v - max)).ToArray();
                double sum = g.Sum();
                var mixed = new double[6];
                for (int e = 0; e < 3; e++)
                {
                    var h = xr;
                    for (int l = 0; l < 2; l++)
                    {
                        var w = P($"experts.{l}.weight");
                        var b = P($"experts.{l}.bias");
                        int din = widths[l], dout = widths[l + 1];
                        var next = new double[dout];
                        for (int o = 0; o < dout; o++)
                        {
                            double z = b[e * dout + o];
                            for (int i = 0; i < din; i++) z += w[(e * dout + o) * din + i] * h[i];
                            next[o] = l == 0 ? Math.Tanh(z) : Math.Max(0, z);   // hidden: Tanh (the spec's), last: ReLU
                        }
                        h = next;
                    }
                    for (int o = 0; o < 6; o++) mixed[o] += g[e] / sum * h[o];
                }
                var tower = Dense(P($"towers.{task}.0.weight"), P($"towers.{task}.0.bias"), mixed, 4, Math.Tanh);
                var outputs = Dense(P($"heads.{task}.weight"), P($"heads.{task}.bias"), tower, model.Spec.Heads[t].Outputs, v => v);
                Tolerance.AllClose(outputs, predicted.Tasks[t].Values.AsSpan(r * outputs.Length, outputs.Length), 1e-5, 1e-6, $"{arch.Name} task {task} row {r}");
            }
        }
    }

    /// <summary>f(W·x + b) in float64, W [outputs × x.Length] row-major (also read by <see cref="CrossStitchModelTests"/>).</summary>
    internal static double[] Dense(double[] w, double[] b, double[] x, int outputs, Func<double, double> f)
    {
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double z = b[o];
            for (int i = 0; i < x.Length; i++) z += w[o * x.Length + i] * x[i];
            y[o] = f(z);
        }
        return y;
    }

    private static Architecture Make(string name) => name switch
    {
        "mmoe" => new MmoeArchitecture(3),
        "omoe" => new OmoeArchitecture(3),
        "cgc" => new CgcArchitecture(2, 1),
        "cross-stitch" => new CrossStitchArchitecture(0.8),
        "dselect-k" => new DSelectKArchitecture(4, 2, 1.0, 0.1),
        _ => new PleArchitecture(2, 1, 3),
    };

    [Theory]
    [InlineData("mmoe")]
    [InlineData("omoe")]
    [InlineData("cgc")]
    [InlineData("ple")]
    [InlineData("cross-stitch")]
    [InlineData("dselect-k")]
    public void Per_task_path_with_the_sum_combiner_equals_the_single_backward(string name)
    {
        var arch = Make(name);
        var spec = Spec(arch, tower: [4]);
        var data = Problems.Data(Rows, seed: 3);
        using var single = MultiTaskModel.Create(spec, Cpu);
        using var perTask = MultiTaskModel.Create(spec, Cpu);
        using var d1 = DeviceDataset.Upload(single, data);
        using var d2 = DeviceDataset.Upload(perTask, data);
        using var s1 = new TrainingStep(single, new StepOptions { LearningRate = 0.01 }, Rows);
        using var s2 = new TrainingStep(perTask, new StepOptions { LearningRate = 0.01, TaskGradientDiagnostics = true }, Rows);
        s1.Run(d1, 0, Rows);
        s2.Run(d2, 0, Rows);
        var g1 = Tolerance.ToDouble(Cpu.ToArray(single.Parameters.Gradients));
        Tolerance.AllClose(g1, Cpu.ToArray(perTask.Parameters.Gradients), 1e-5, 1e-7, $"{name} gradients");
        Assert.Contains(g1[..single.SharedParameters.Length], v => v != 0);
        // The per-task rows sum (weights 1, 0.5) to the shared block's gradient.
        int shared = single.SharedParameters.Length;
        var rows = Cpu.ToArray(s2.TaskGradients);
        var sum = Enumerable.Range(0, shared).Select(i => rows[i] + 0.5 * rows[shared + i]).ToArray();
        Tolerance.AllClose(sum, Tolerance.ToFloat(g1[..shared]), 1e-5, 1e-7, $"{name} Σ λₜ rowₜ");
        Assert.NotEqual(rows[..shared], rows[shared..]);
    }

    [Fact]
    public void Ple_layout_puts_each_tasks_last_gates_and_experts_in_its_block()
    {
        using var model = MultiTaskModel.Create(Spec(new PleArchitecture(2, 1, 2)), Cpu);
        string[] names = [.. model.Parameters.Slots.Select(s => s.Name)];
        int first = Array.IndexOf(names, "levels.0.gates.reg.weight");
        Assert.Equal([
            "levels.0.shared.0.weight", "levels.0.shared.0.bias", "levels.0.shared.1.weight", "levels.0.shared.1.bias",
            "levels.0.tasks.reg.0.weight", "levels.0.tasks.reg.0.bias", "levels.0.tasks.reg.1.weight", "levels.0.tasks.reg.1.bias",
            "levels.0.tasks.cls.0.weight", "levels.0.tasks.cls.0.bias", "levels.0.tasks.cls.1.weight", "levels.0.tasks.cls.1.bias",
            "levels.0.shared_gate.weight",
            "levels.1.shared.0.weight", "levels.1.shared.0.bias", "levels.1.shared.1.weight", "levels.1.shared.1.bias"], names[..first]);
        Assert.Equal(model.SharedParameters.Length, model.Parameters[names[first]].Offset);
        Assert.Equal(["levels.0.gates.reg.weight", "levels.1.tasks.reg.0.weight", "levels.1.tasks.reg.0.bias", "levels.1.tasks.reg.1.weight",
            "levels.1.tasks.reg.1.bias", "levels.1.gates.reg.weight", "heads.reg.weight", "heads.reg.bias"], model.TaskParameterNames(0));
        Assert.Equal([2, 8, 5], model.Parameters["levels.0.shared.0.weight"].Shape);   // Eₛ = 2 experts of 5 → 8 → 6
        Assert.Equal([4, 5], model.Parameters["levels.0.shared_gate.weight"].Shape);   // T·Eₜ + Eₛ = 2·1 + 2 experts, d = 5
        Assert.Equal([3, 6], model.Parameters["levels.1.gates.cls.weight"].Shape);     // Eₜ + Eₛ = 3, reading the H = 6 features
    }

    [Fact]
    public void A_trained_mmoe_saves_and_loads_with_identical_predictions()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("mmoe.safetensors");
        using var model = MultiTaskModel.Create(Spec(new MmoeArchitecture(4), tower: [3]), Cpu);
        var data = Problems.Data(32, seed: 2);
        new Trainer(new TrainerOptions { Epochs = 2, BatchSize = 16, Step = new StepOptions { Combination = CombinationMethod.PcGrad } })
            .Fit(model, data, cancellationToken: TestContext.Current.CancellationToken);
        model.Save(path);
        Assert.Contains("\"architecture\":{\"kind\":\"mmoe\",\"experts\":4}", model.Spec.ToJson());
        using var loaded = MultiTaskModel.Load(path, Cpu);
        Assert.Equal(new MmoeArchitecture(4), loaded.Spec.Architecture);
        var a = model.Predict(data.Inputs, data.Rows);
        var b = loaded.Predict(data.Inputs, data.Rows);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => MultiTaskModel.Create(Spec(new MmoeArchitecture(0)), Cpu));
        Assert.Contains("Experts", bad.Message);
    }
}
