using System.Text.Json;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Optimizers;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Saving and loading models: exact round trips, preprocessing and optimizer state, and PyTorch's weights.</summary>
public class ModelCheckpointTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Save_then_load_gives_identical_predictions_spec_and_metadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File_("model.safetensors");
        var spec = Problems.Spec() with { TrunkOutputActivation = Activation.Relu, Initializer = Engine.Autodiff.Initializer.XavierUniform };
        using var model = MultiTaskModel.Create(spec, Cpu);
        var data = Problems.Data(64, seed: 1);
        var result = new Trainer(new TrainerOptions { Epochs = 2, BatchSize = 16 }).Fit(model, data, cancellationToken: Ct);
        var standardization = new Standardization(Standardizer.Identity(5),
            new Dictionary<string, Standardizer> { ["reg"] = new([1.5, -2], [2, 0.5]) });
        var metadata = new ModelMetadata(standardization, Properties: new Dictionary<string, string> { ["cli.command"] = "mtl train" });
        model.Save(path, metadata, result.OptimizerState);

        using var loaded = MultiTaskModel.Load(path, Cpu);
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(spec.ToJson(), loaded.Spec.ToJson());
        var a = model.Predict(data.Inputs, data.Rows);
        var b = loaded.Predict(data.Inputs, data.Rows);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
        Assert.Equal(a["cls"].Classes, b["cls"].Classes);
        Assert.Equal(standardization.ToJson(), loaded.Metadata!.Standardization!.ToJson());
        Assert.Equal("mtl train", loaded.Metadata.Properties!["cli.command"]);

        // The optimizer state round-trips exactly, and resuming from it continues the same trajectory.
        var checkpoint = Checkpoint.Load(path);
        Assert.True(checkpoint.HasOptimizerState);
        Assert.True(checkpoint.Tensors.Contains("optimizer.exp_avg.trunk.0.weight"));
        Assert.Equal(8, checkpoint.Tensors[CheckpointNames.OptimizerStep].ToInt64()[0]);
        Assert.Equal(0, checkpoint.Tensors[CheckpointNames.OptimizerSkippedSteps].ToInt64()[0]);   // 2 epochs × 4 batches, none skipped
        Assert.Equal(8, checkpoint.Tensors[CheckpointNames.OptimizerScheduleStep].ToInt64()[0]);
        var state = MultiTaskModel.ReadOptimizerState(checkpoint)!;
        foreach (var (name, values) in result.OptimizerState.Tensors) Assert.Equal(values, state.Tensors[name]);
        Assert.Equal(result.OptimizerState.Scalars, state.Scalars);

        var next = new TrainerOptions { Epochs = 1, BatchSize = 0 };
        using var fresh = MultiTaskModel.Load(path, Cpu);
        new Trainer(next with { InitialOptimizerState = result.OptimizerState }).Fit(model, data, cancellationToken: Ct);
        new Trainer(next with { InitialOptimizerState = state }).Fit(loaded, data, cancellationToken: Ct);
        new Trainer(next).Fit(fresh, data, cancellationToken: Ct);
        Assert.Equal(Cpu.ToArray(model.Parameters.Values), Cpu.ToArray(loaded.Parameters.Values));
        Assert.NotEqual(Cpu.ToArray(model.Parameters.Values), Cpu.ToArray(fresh.Parameters.Values)); // the state mattered
    }

    /// <summary>Each optimizer's options for the resume test, and the state buffers its checkpoint must hold.</summary>
    private static (StepOptions Options, string[] State) ResumeSetup(string optimizer) => optimizer switch
    {
        "adam" => (new StepOptions { LearningRate = 0.01, Schedule = ScheduleKind.Exponential, ScheduleGamma = 0.5, AmsGrad = true },
            ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]),
        "rmsprop" => (new StepOptions
        {
            Optimizer = OptimizerKind.RmsProp, LearningRate = 0.01, Momentum = 0.9, Centered = true, Alpha = 0.95, WeightDecay = 0.01,
            MaxGradNorm = 1.0, Schedule = ScheduleKind.Exponential, ScheduleGamma = 0.5,
        }, ["square_avg", "grad_avg", "momentum_buffer"]),
        "adagrad" => (new StepOptions
        {
            Optimizer = OptimizerKind.Adagrad, LearningRate = 0.01, LearningRateDecay = 0.5, InitialAccumulatorValue = 0.1, WeightDecay = 0.01,
            MaxGradNorm = 1.0, Schedule = ScheduleKind.Exponential, ScheduleGamma = 0.5,
        }, ["sum"]),
        _ => throw new ArgumentOutOfRangeException(nameof(optimizer)),
    };

    [Fact]
    public void A_plateau_schedule_resumes_its_best_bad_epochs_cooldown_and_reductions()
    {
        // Full batches (no shuffle), patience 0, a 30 % threshold and a cooldown of 1: the rate is cut in most epochs, so
        // the plateau's state at the save point decides the learning-rate sequence after it.
        using var dir = new TempDirectory();
        string path = dir.File_("plateau.safetensors");
        var data = Problems.Data(32, seed: 5);
        var step = new StepOptions
        {
            Optimizer = OptimizerKind.Adagrad, LearningRate = 0.05, LearningRateDecay = 0.01, Schedule = ScheduleKind.Plateau,
            ScheduleGamma = 0.5, PlateauPatience = 0, PlateauThreshold = 0.3, PlateauCooldown = 1,
        };
        TrainerOptions Options(int epochs) => new() { Epochs = epochs, BatchSize = 0, Step = step };

        using var uninterrupted = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var all = new Trainer(Options(7)).Fit(uninterrupted, data, cancellationToken: Ct);

        using var first = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var head = new Trainer(Options(4)).Fit(first, data, cancellationToken: Ct);
        first.Save(path, optimizerState: head.OptimizerState);
        var checkpoint = Checkpoint.Load(path);
        Assert.Equal(SafeTensorDType.F64, checkpoint.Tensors["optimizer.schedule.plateau.best"].DType);
        Assert.True(checkpoint.Tensors["optimizer.schedule.plateau.reductions"].ToInt64()[0] > 0, "the rate was cut before the save");
        var state = MultiTaskModel.ReadOptimizerState(checkpoint)!;
        Assert.Equal(head.OptimizerState.Scalars, state.Scalars); // best exactly (F64), the counters as I64

        using var resumed = MultiTaskModel.Load(path, Cpu);
        var tail = new Trainer(Options(3) with { InitialOptimizerState = state }).Fit(resumed, data, cancellationToken: Ct);
        Assert.Equal(all.History.Select(r => r.LearningRate), head.History.Concat(tail.History).Select(r => r.LearningRate));
        Assert.Equal(Cpu.ToArray(uninterrupted.Parameters.Values), Cpu.ToArray(resumed.Parameters.Values));
        Assert.Equal(all.OptimizerState.Scalars, tail.OptimizerState.Scalars);

        // Without the plateau's state the sequence would differ (the state mattered) …
        var restarted = new Dictionary<string, double>(state.Scalars) { ["schedule.plateau.best"] = double.PositiveInfinity,
            ["schedule.plateau.bad_epochs"] = 0, ["schedule.plateau.cooldown_left"] = 0, ["schedule.plateau.reductions"] = 0 };
        using var fresh = MultiTaskModel.Load(path, Cpu);
        var other = new Trainer(Options(3) with { InitialOptimizerState = new(state.Tensors, restarted) }).Fit(fresh, data, cancellationToken: Ct);
        Assert.NotEqual(tail.History.Select(r => r.LearningRate), other.History.Select(r => r.LearningRate));

        // … and a mismatched resume is refused: plateau state into another schedule, a state without it into a plateau run.
        using var again = MultiTaskModel.Load(path, Cpu);
        var constant = Options(1) with { Step = step with { Schedule = ScheduleKind.Constant }, InitialOptimizerState = state };
        Assert.Contains("--schedule plateau", Assert.Throws<ArgumentException>(() => new Trainer(constant).Fit(again, data, cancellationToken: Ct)).Message);
        var without = new OptimizerState<float>(state.Tensors, state.Scalars.Where(e => !e.Key.StartsWith("schedule.", StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => e.Value));
        Assert.Contains("schedule.plateau.best", Assert.Throws<ArgumentException>(() =>
            new Trainer(Options(1) with { InitialOptimizerState = without }).Fit(again, data, cancellationToken: Ct)).Message);
    }

    public static TheoryData<string> ResumeOptimizers() => ["adam", "rmsprop", "adagrad"];

    [Theory]
    [MemberData(nameof(ResumeOptimizers))]
    public void Resuming_from_a_checkpoint_continues_exactly_like_an_uninterrupted_run(string optimizer)
    {
        using var dir = new TempDirectory();
        string path = dir.File_("resume.safetensors");
        var data = Problems.Data(16, seed: 3);
        var (options, stateNames) = ResumeSetup(optimizer);

        using var uninterrupted = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using (var device = DeviceDataset.Upload(uninterrupted, data))
        using (var step = new TrainingStep(uninterrupted, options, 16))
        {
            for (int s = 0; s < 3; s++) step.Run(device, 0, 16);
        }

        using (var first = MultiTaskModel.Create(Problems.Spec(), Cpu))
        using (var device = DeviceDataset.Upload(first, data))
        using (var step = new TrainingStep(first, options, 16))
        {
            for (int s = 0; s < 2; s++) step.Run(device, 0, 16);
            first.Save(path, optimizerState: step.Optimizer.SaveState());
        }

        var checkpoint = Checkpoint.Load(path);
        foreach (string name in stateNames) // PyTorch's state names under the optimizer. prefix
            Assert.True(checkpoint.Tensors.Contains($"optimizer.{name}.trunk.0.weight"), $"optimizer.{name}.trunk.0.weight is saved");
        using var resumed = MultiTaskModel.Load(path, Cpu);
        using (var device = DeviceDataset.Upload(resumed, data))
        using (var step = new TrainingStep(resumed, options, 16))
        {
            step.Optimizer.LoadState(MultiTaskModel.ReadOptimizerState(checkpoint)!);
            Assert.Equal(0.01 * 0.25, step.Optimizer.CurrentLearningRate(), 15); // the schedule resumes at step 2
            step.Run(device, 0, 16);
        }
        Assert.Equal(Cpu.ToArray(uninterrupted.Parameters.Values), Cpu.ToArray(resumed.Parameters.Values));

        using var fresh = MultiTaskModel.Load(path, Cpu); // the same step without the state ends elsewhere: the state mattered
        using (var device = DeviceDataset.Upload(fresh, data))
        using (var step = new TrainingStep(fresh, options, 16))
            step.Run(device, 0, 16);
        Assert.NotEqual(Cpu.ToArray(uninterrupted.Parameters.Values), Cpu.ToArray(fresh.Parameters.Values));
    }

    [Fact]
    public void Parameters_use_the_checkpoint_names_and_pytorch_layout()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var file = model.ToCheckpoint().Tensors;
        Assert.Equal(["trunk.0.weight", "trunk.0.bias", "trunk.1.weight", "trunk.1.bias", "heads.reg.weight", "heads.reg.bias", "heads.cls.weight", "heads.cls.bias"], file.Names);
        Assert.Equal([8L, 5L], file[CheckpointNames.TrunkWeight(0)].Shape);
        Assert.Equal([3L, 6L], file[CheckpointNames.HeadWeight("cls")].Shape);
        Assert.Equal(model.ReadParameter("heads.reg.bias"), file[CheckpointNames.HeadBias("reg")].ToFloat32());
    }

    /// <summary>
    /// Tests/Fixtures/torch_mlp.safetensors holds torch's <c>nn.Sequential(Linear(4,6), ReLU, Linear(6,5), Tanh, Linear(5,3))</c>
    /// (layers 0, 2, 4) and torch_mlp.json its output on a fixed input (torch 1.13, float32). As a MultiTaskModel: trunk
    /// [6, 5] with ReLU then Tanh, one 3-output regression head. Tolerance 1e-6: the same float32 weights and inputs,
    /// only the summation order differs.
    /// </summary>
    [Fact]
    public void Weights_written_by_pytorch_give_pytorchs_outputs()
    {
        var reference = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("torch_mlp.json"))).RootElement;
        float[] Floats(string key) => reference.GetProperty(key).GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        var spec = new ModelSpec(4, [6, 5], [TaskHead.Regression("out", 3)]) { TrunkActivation = Activation.Relu, TrunkOutputActivation = Activation.Tanh };
        using var model = MultiTaskModel.Create(spec, Cpu);
        var rename = new Dictionary<string, string>
        {
            ["0.weight"] = "trunk.0.weight", ["0.bias"] = "trunk.0.bias",
            ["2.weight"] = "trunk.1.weight", ["2.bias"] = "trunk.1.bias",
            ["4.weight"] = "heads.out.weight", ["4.bias"] = "heads.out.bias",
        };
        string path = BundledFiles.Fixture("torch_mlp.safetensors");

        // The fixture also holds extra.f64/i64/i32 tensors: strict loading names the first one it cannot place.
        var error = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(path, rename));
        Assert.Contains("extra.", error.Message);

        model.LoadWeights(path, rename, strict: false);
        Assert.Equal(9, Floats("output").Length);
        var predictions = model.Predict(Floats("input"), 3);
        Tolerance.AllClose(Array.ConvertAll(Floats("output"), v => (double)v), predictions["out"].Values, 1e-6, 1e-6, "torch output");
        Assert.Equal(reference.GetProperty("tensors").GetProperty("2.weight").GetProperty("values").EnumerateArray().Select(v => (float)v.GetDouble()),
            model.ReadParameter("trunk.1.weight"));
    }

    [Fact]
    public void A_file_without_a_spec_or_with_wrong_shapes_is_refused_naming_the_problem()
    {
        using var dir = new TempDirectory();
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var torch = BundledFiles.Fixture("torch_mlp.safetensors");
        var noSpec = Assert.Throws<SafeTensorsFormatException>(() => MultiTaskModel.Load(torch, Cpu));
        Assert.Contains("engine.config", noSpec.Message);

        var wrongShape = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(torch, new Dictionary<string, string> { ["0.weight"] = "trunk.0.weight" }, strict: false));
        Assert.Contains("0.weight", wrongShape.Message);
        Assert.Contains("[8, 5]", wrongShape.Message);

        var file = model.ToCheckpoint().Tensors;
        file.Remove("heads.cls.bias");
        var before = model.ReadParameter("trunk.0.weight");
        var missing = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(file));
        Assert.Contains("heads.cls.bias", missing.Message);
        Assert.Equal(before, model.ReadParameter("trunk.0.weight")); // nothing changed

        var nan = model.ToCheckpoint().Tensors;
        var w = nan["trunk.1.bias"].ToFloat32();
        w[2] = float.NaN;
        nan.Remove("trunk.1.bias");
        nan.Add("trunk.1.bias", SafeTensor.FromFloat32(w, 6));
        var notFinite = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(nan));
        Assert.Contains("trunk.1.bias", notFinite.Message);
    }
}
