using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Model;

/// <summary>
/// A model = shared part + one tower per task + one output layer per task: the layout (shared block first, then each
/// task's own block), towers against the float64 hand-written network (<see cref="ReferenceNet"/>, which walks the
/// towers too), the per-task path with towers, the architecture in the spec's JSON, and checkpoints.
/// Tolerances as in <see cref="TrainingStepTests"/>: float32 gradients vs float64 within rtol 1e-4 + atol 1e-6.
/// </summary>
public class ComposableModelTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    private static double[] Gradients(MultiTaskModel model) => Tolerance.ToDouble(model.Backend.ToArray(model.Parameters.Gradients));

    [Fact]
    public void Layout_is_the_shared_block_then_each_tasks_tower_and_output_layer()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [7, 4]), Cpu);
        Assert.IsType<SharedBottom<float>>(model.Shared);
        string[] names = [.. model.Parameters.Slots.Select(s => s.Name)];
        Assert.Equal([
            "trunk.0.weight", "trunk.0.bias", "trunk.1.weight", "trunk.1.bias",
            "towers.reg.0.weight", "towers.reg.0.bias", "towers.reg.1.weight", "towers.reg.1.bias", "heads.reg.weight", "heads.reg.bias",
            "towers.cls.0.weight", "towers.cls.0.bias", "towers.cls.1.weight", "towers.cls.1.bias", "heads.cls.weight", "heads.cls.bias"], names);
        // 5→8→6 trunk: 40 + 8 + 48 + 6 = 102 shared scalars, at the start.
        Assert.Equal((0, 102), (model.SharedParameters.Offset, model.SharedParameters.Length));
        // reg: 6→7→4→2 = 49 + 32 + 10 = 91 scalars; cls: 6→7→4→3 = 49 + 32 + 15 = 96.
        Assert.Equal((102, 91), model.TaskRange(0));
        Assert.Equal((193, 96), model.TaskRange(1));
        Assert.Equal(193 + 96, model.Parameters.Count);
        Assert.Equal((102 + 81, 10), model.HeadRange(0));
        Assert.Equal(["towers.cls.0.weight", "towers.cls.0.bias", "towers.cls.1.weight", "towers.cls.1.bias", "heads.cls.weight", "heads.cls.bias"],
            model.TaskParameterNames(1));
        Assert.Equal([7, 4], model.Towers[0]!.Layers.Select(l => l.Outputs));
    }

    [Fact]
    public void Without_a_tower_the_model_is_todays_trunk_and_heads_bit_for_bit()
    {
        // A spec that names the shared bottom explicitly builds the same parameters, with the same values, as one that
        // names no architecture (the checkpoints of before), and trains to the same bits.
        var spec = Problems.Spec();
        using var a = MultiTaskModel.Create(spec, Cpu);
        using var b = MultiTaskModel.Create(spec with { Architecture = new SharedBottomArchitecture(), Tower = [] }, Cpu);
        Assert.Equal(a.Parameters.Slots.Select(s => (s.Name, s.Offset)), b.Parameters.Slots.Select(s => (s.Name, s.Offset)));
        var data = Problems.Data(Rows, seed: 4);
        foreach (var m in new[] { a, b })
        {
            using var device = DeviceDataset.Upload(m, data);
            using var step = new TrainingStep(m, new StepOptions { LearningRate = 0.01, Combination = CombinationMethod.PcGrad }, Rows);
            step.Run(device, 0, Rows);
            step.Run(device, 0, Rows);
        }
        Assert.Equal(Cpu.ToArray(a.Parameters.Values), Cpu.ToArray(b.Parameters.Values));
    }

    [Fact]
    public void Sum_step_with_towers_matches_the_float64_reference()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [7, 4]), Cpu);
        var data = Problems.Data(Rows, seed: 1);
        var reference = new ReferenceNet(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01 }, Rows);
        step.Run(device, 0, Rows);

        var (losses, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        Tolerance.AllClose(losses, Cpu.ToArray(step.TaskLosses), 1e-5, 1e-6, "task losses");
        var g = new double[model.Parameters.Count];
        double[] lambda = [1.0, 0.5];
        for (int t = 0; t < 2; t++)
        {
            var flat = ReferenceNet.Flatten(model.Parameters, grads[t]);
            for (int i = 0; i < g.Length; i++) g[i] += lambda[t] * flat[i];
        }
        Tolerance.AllClose(g, Gradients(model), 1e-4, 1e-6, "Σ λᵢ∇Lᵢ with towers");
    }

    [Fact]
    public void Per_task_path_with_towers_gives_unweighted_shared_rows_and_weighted_own_blocks()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(seed: 1, tower: [5]), Cpu);
        var data = Problems.Data(Rows, seed: 7);
        var reference = new ReferenceNet(model);
        using var device = DeviceDataset.Upload(model, data);
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.01, Combination = CombinationMethod.Mgda }, Rows);
        step.Run(device, 0, Rows);

        var (_, grads) = reference.TaskGradients(Problems.Inputs(data), Rows, Problems.Targets(data), Problems.Labels(data));
        int shared = model.SharedParameters.Length;
        var rows = new double[2 * shared];
        ReferenceNet.Flatten(model.Parameters, grads[0])[..shared].CopyTo(rows, 0);
        ReferenceNet.Flatten(model.Parameters, grads[1])[..shared].CopyTo(rows, shared);
        Tolerance.AllClose(rows, Cpu.ToArray(step.TaskGradients), 1e-4, 1e-6, "per-task shared gradients");
        var actual = Gradients(model);
        for (int t = 0; t < 2; t++)
        {
            var (offset, length) = model.TaskRange(t);
            var own = ReferenceNet.Flatten(model.Parameters, grads[t])[offset..(offset + length)];
            Tolerance.AllClose(own.Select(v => v * (t == 0 ? 1.0 : 0.5)).ToArray(), Tolerance.ToFloat(actual[offset..(offset + length)]), 1e-4, 1e-6, $"task {t}'s tower and head");
        }
    }

    [Fact]
    public void The_architecture_and_towers_are_in_the_json_only_when_given()
    {
        var plain = Problems.Spec();
        string json = plain.ToJson();
        Assert.DoesNotContain("architecture", json);
        Assert.DoesNotContain("tower", json);
        Assert.Null(ModelSpec.FromJson(json).Architecture);

        var named = plain with { Architecture = new SharedBottomArchitecture(), Tower = [3] };
        json = named.ToJson();
        Assert.Contains("\"architecture\":{\"kind\":\"shared-bottom\"}", json);
        Assert.Contains("\"tower\":[3]", json);
        var back = ModelSpec.FromJson(json);
        Assert.IsType<SharedBottomArchitecture>(back.Architecture);
        Assert.Equal(named, back);

        var unknown = json.Replace("shared-bottom", "no-such-architecture");
        var e = Assert.ThrowsAny<System.Text.Json.JsonException>(() => ModelSpec.FromJson(unknown));
        Assert.Contains("no-such-architecture", e.Message);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => MultiTaskModel.Create(plain with { Tower = [4, 0] }, Cpu));
        Assert.Contains("ModelSpec.Tower[1]", bad.Message);
    }

    [Fact]
    public void A_model_with_towers_saves_and_loads_with_identical_predictions()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("towers.safetensors");
        using var model = MultiTaskModel.Create(Problems.Spec(tower: [4]), Cpu);
        var data = Problems.Data(32, seed: 2);
        new Trainer(new TrainerOptions { Epochs = 1, BatchSize = 16 }).Fit(model, data, cancellationToken: TestContext.Current.CancellationToken);
        model.Save(path);
        using var loaded = MultiTaskModel.Load(path, Cpu);
        Assert.Equal(model.Spec, loaded.Spec);
        var a = model.Predict(data.Inputs, data.Rows);
        var b = loaded.Predict(data.Inputs, data.Rows);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
    }
}
