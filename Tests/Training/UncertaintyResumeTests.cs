using Engine.Checkpoints;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// Uncertainty weighting's log-variances sᵢ (and FAMO's logits) are training state outside the model: <see cref="TrainingStep.SaveState"/>
/// saves them (values and Adam moments) with the optimizer's state, and a run resumed from a checkpoint continues exactly
/// as an uninterrupted one, sᵢ included.
/// </summary>
public class UncertaintyResumeTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string LogVariances = "param.uncertainty.log_variance";

    // Full batch (no shuffling), so the resumed epochs see exactly the rows the uninterrupted ones saw.
    private static TrainerOptions Options(int epochs, string method = "uncertainty") => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = method, MethodOptions = method == "static" ? new Dictionary<string, string>() : new Dictionary<string, string> { ["init"] = "-0.5" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>uncertainty's log-variances and IMTL-L's loss scales (the same plumbing, sign +1).</summary>
    [Theory]
    [InlineData("uncertainty", "uncertainty.log_variance")]
    [InlineData("imtl-l", "imtl.loss_scale")]
    public void A_resumed_run_continues_the_learned_parameters_and_their_moments_exactly(string method, string parameter)
    {
        string learned = TrainingStep.LearnedValuesBuffer + "." + parameter;
        using var dir = new TempDirectory();
        string path = dir.File_("half.safetensors");
        var data = Problems.Data(32, seed: 5);

        using var uninterrupted = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var whole = new Trainer(Options(6, method)).Fit(uninterrupted, data, cancellationToken: Ct);

        using (var first = MultiTaskModel.Create(Problems.Spec(), Cpu))
        {
            var half = new Trainer(Options(3, method)).Fit(first, data, cancellationToken: Ct);
            Assert.Equal(2, half.OptimizerState.Tensors[learned].Length);
            Assert.All(half.OptimizerState.Tensors[learned], s => Assert.NotEqual(-0.5f, s));   // they moved: the test can tell
            Assert.Contains("exp_avg_sq." + parameter, half.OptimizerState.Tensors.Keys);
            first.Save(path, optimizerState: half.OptimizerState);
        }
        var checkpoint = Checkpoint.Load(path);
        Assert.True(checkpoint.Tensors.Contains("optimizer." + learned));
        using var resumed = MultiTaskModel.Load(path, Cpu);
        var rest = new Trainer(Options(3, method) with { InitialOptimizerState = MultiTaskModel.ReadOptimizerState(checkpoint) })
            .Fit(resumed, data, cancellationToken: Ct);

        Assert.Equal(Cpu.ToArray(uninterrupted.Parameters.Values), Cpu.ToArray(resumed.Parameters.Values));
        Assert.Equal(whole.OptimizerState.Tensors[learned], rest.OptimizerState.Tensors[learned]);
        foreach (var (name, values) in whole.OptimizerState.Tensors) Assert.Equal(values, rest.OptimizerState.Tensors[name]);
        Assert.Equal(whole.OptimizerState.Scalars, rest.OptimizerState.Scalars);
        Assert.Equal(whole.OptimizerState.Float64Tensors.Keys.Order(), rest.OptimizerState.Float64Tensors.Keys.Order());
        foreach (var (name, values) in whole.OptimizerState.Float64Tensors)
            Assert.Equal(Array.ConvertAll(values, BitConverter.DoubleToInt64Bits), Array.ConvertAll(rest.OptimizerState.Float64Tensors[name], BitConverter.DoubleToInt64Bits));

        // A state stripped of them is refused, naming the tensor (resuming would silently restart them at −0.5).
        using var forgetful = MultiTaskModel.Load(path, Cpu);
        var modelOnly = MultiTaskModel.ReadOptimizerState(checkpoint)!;
        var stripped = new OptimizerState<float>(modelOnly.Tensors.Where(e => !e.Key.EndsWith("." + parameter, StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => e.Value), modelOnly.Scalars);
        var error = Assert.Throws<ArgumentException>(() =>
            new Trainer(Options(3, method) with { InitialOptimizerState = stripped }).Fit(forgetful, data, cancellationToken: Ct));
        Assert.Contains($"'{learned}'", error.Message);
    }

    [Fact]
    public void A_state_without_learned_parameters_resumes_methods_that_have_none_and_is_refused_by_those_that_do()
    {
        var data = Problems.Data(32, seed: 5);
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var plain = new Trainer(Options(2, method: "static")).Fit(model, data, cancellationToken: Ct);
        Assert.DoesNotContain(plain.OptimizerState.Tensors.Keys, k => k.StartsWith(TrainingStep.LearnedValuesBuffer + ".", StringComparison.Ordinal));

        using var again = MultiTaskModel.Create(Problems.Spec(), Cpu);
        new Trainer(Options(1, method: "static") with { InitialOptimizerState = plain.OptimizerState }).Fit(again, data, cancellationToken: Ct);

        // A learned-parameter entry a method without learned parameters does not know is refused by name too.
        var withExtra = new OptimizerState<float>(new Dictionary<string, float[]>(plain.OptimizerState.Tensors) { [LogVariances] = [0f, 0f] },
            plain.OptimizerState.Scalars);
        var unknown = Assert.Throws<ArgumentException>(() =>
            new Trainer(Options(1, method: "static") with { InitialOptimizerState = withExtra }).Fit(again, data, cancellationToken: Ct));
        Assert.Contains(LogVariances, unknown.Message);

        using var learned = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var refused = Assert.Throws<ArgumentException>(() =>
            new Trainer(Options(1) with { InitialOptimizerState = plain.OptimizerState }).Fit(learned, data, cancellationToken: Ct));
        Assert.Contains($"'{LogVariances}'", refused.Message);
    }

    private static TrainerOptions Famo(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "famo", MethodOptions = new Dictionary<string, string> { ["w-lr"] = "0.1" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>FAMO's state (logits, their Adam moments, the previous losses, the counters) is the method's own, not a
    /// learned parameter: saved as <c>method.famo.*</c>, and a resumed run continues exactly as the uninterrupted one.</summary>
    [Fact]
    public void Famo_resumes_its_logits_moments_and_previous_losses_exactly()
    {
        string logits = TrainingStep.MethodStateBuffer + ".famo.logits";
        string[] names = ["logits", "exp_avg", "exp_avg_sq", "previous_losses", "counters"];
        AssertMethodStateResumesExactly(Famo, logits, saved =>
        {
            foreach (var n in names) Assert.Contains($"{TrainingStep.MethodStateBuffer}.famo.{n}", saved.Keys);
            var w = saved[logits];
            Assert.True(Math.Abs(w[0] - w[1]) > 1e-3, $"the logits moved apart: ({w[0]}, {w[1]})");   // the test can tell
            Assert.Equal([2f, 1f], saved[TrainingStep.MethodStateBuffer + ".famo.counters"]); // 2 Adam steps, L′ held
        });
    }

    private static TrainerOptions Stch(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "stch", MethodOptions = new Dictionary<string, string> { ["warmup-epochs"] = "1", ["mu"] = "0.5" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>STCH's nadir sums, their count and the epoch counter are saved as <c>method.stch.*</c>: after 3 full-batch
    /// epochs with W = 1 (epoch 1 summed once, epoch 2 ran STCH proper) a resumed run continues in STCH exactly as the
    /// uninterrupted one (without the state it would restart the warm-up).</summary>
    [Fact]
    public void Stch_resumes_its_nadir_point_and_epoch_exactly()
    {
        string prefix = TrainingStep.MethodStateBuffer + ".stch.";
        AssertMethodStateResumesExactly(Stch, prefix + "epoch", saved =>
        {
            Assert.Equal([3f], saved[prefix + "epoch"]);
            Assert.Equal([1f], saved[prefix + "warmup_steps"]);
            Assert.All(saved[prefix + "warmup_loss_sums"], l => Assert.True(l > 0));
        });
    }

    private static TrainerOptions GradNorm(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "gradnorm", LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>GradNorm's weights are not parameters of any optimizer of the step: they, their Adam moments, Lᵢ(0) and the
    /// update count live in its own device state, saved as <c>method.gradnorm.*</c>; 3 epochs, a checkpoint and 3 more equal
    /// 6 uninterrupted epochs bit for bit.</summary>
    [Fact]
    public void GradNorm_resumes_its_weights_moments_and_initial_losses_exactly()
    {
        string weights = TrainingStep.MethodStateBuffer + ".gradnorm.weight", prefix = TrainingStep.MethodStateBuffer + ".gradnorm.";
        AssertMethodStateResumesExactly(GradNorm, weights, saved =>
        {
            Assert.Equal(2, saved[weights].Length);
            Assert.All(saved[weights], w => Assert.NotEqual(1f, w));                            // they moved: the test can tell
            Assert.Equal(2f, saved[weights].Sum(), 1e-5);
            Assert.All(saved[prefix + "initial_loss"], l => Assert.True(l > 0));
            Assert.Equal([3f], saved[prefix + "step"]);
            Assert.Contains(prefix + "exp_avg_sq", saved.Keys);
        });
    }

    private static TrainerOptions ExcessMtl(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "excess-mtl", MethodOptions = new Dictionary<string, string> { ["robust-step-size"] = "0.5" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>ExcessMTL's weights, its scales r⁰, the update count and S (the accumulated squared task gradients
    /// [T × P]) are saved as <c>method.excess-mtl.*</c>; 3 epochs, a checkpoint and 3 more equal 6 uninterrupted epochs bit
    /// for bit (without S the resumed risks would restart from a fresh AdaGrad diagonal).</summary>
    [Fact]
    public void ExcessMtl_resumes_its_weights_scales_and_squared_gradient_sums_exactly()
    {
        string prefix = TrainingStep.MethodStateBuffer + ".excess-mtl.";
        AssertMethodStateResumesExactly(ExcessMtl, prefix + "grad_sum", saved =>
        {
            Assert.All(saved[prefix + "weight"], w => Assert.NotEqual(1f, w));                 // they moved: the test can tell
            Assert.Equal(2f, saved[prefix + "weight"].Sum(), 1e-5);
            Assert.All(saved[prefix + "initial_risk"], r => Assert.True(r > 0));
            Assert.Equal([3f], saved[prefix + "updates"]);
            Assert.Contains(saved[prefix + "grad_sum"], s => s > 0);
        });
    }

    private static TrainerOptions Moco(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "moco", MethodOptions = new Dictionary<string, string> { ["gamma"] = "2" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>MoCo's tracked gradients Y, its λ and its step count are saved as <c>method.moco.*</c>; 3 epochs, a
    /// checkpoint and 3 more equal 6 uninterrupted epochs bit for bit (without them β_t, γ_t, Y and λ would restart).</summary>
    [Fact]
    public void Moco_resumes_its_tracked_gradients_lambda_and_step_exactly()
    {
        string prefix = TrainingStep.MethodStateBuffer + ".moco.";
        AssertMethodStateResumesExactly(Moco, prefix + "y", saved =>
        {
            Assert.Equal([3f], saved[prefix + "step"]);
            Assert.True(saved[prefix + "lambda"].Any(l => Math.Abs(l - 0.5f) > 1e-4), "λ moved from 1/T: the test can tell");
            Assert.Contains(saved[prefix + "y"], v => v != 0);
        });
    }

    private static TrainerOptions DbMtl(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "db-mtl", MethodOptions = new Dictionary<string, string> { ["beta"] = "0.8", ["beta-sigma"] = "0.5" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>DB-MTL's moving averages of the task gradients (T × shared parameters) and its step count (the rate
    /// β/s^σ) are saved as <c>method.db-mtl.*</c>: 3 epochs, a checkpoint and 3 more equal 6 uninterrupted epochs bit for bit
    /// (without them the averages would restart at 0 and the rate at β).</summary>
    [Fact]
    public void Db_mtl_resumes_its_gradient_averages_and_step_count_exactly()
    {
        string prefix = TrainingStep.MethodStateBuffer + ".db-mtl.";
        AssertMethodStateResumesExactly(DbMtl, prefix + "average", saved =>
        {
            Assert.Equal([3f], saved[prefix + "steps"]);
            Assert.Contains(saved[prefix + "average"], v => v != 0);                          // they moved: the test can tell
        });
    }

    private static TrainerOptions GradVac(int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = "gradvac", MethodOptions = new Dictionary<string, string> { ["beta"] = "0.3" }, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>GradVac's cosine targets φ̂ (T × T) and its step count (which draws each step's order) are float64 state,
    /// saved bit for bit as F64 tensors <c>method.gradvac.*</c>: 3 epochs, a checkpoint and 3 more equal 6 uninterrupted
    /// epochs bit for bit (without them the targets would restart at 0, and the first resumed step would be PCGrad's).</summary>
    [Fact]
    public void GradVac_resumes_its_cosine_targets_and_step_count_exactly()
    {
        string prefix = TrainingStep.MethodStateBuffer + ".gradvac.";
        AssertMethodStateResumesExactly(GradVac, prefix + "targets", (OptimizerState<float> saved) =>
        {
            Assert.DoesNotContain(saved.Tensors.Keys, k => k.StartsWith(prefix, StringComparison.Ordinal));
            Assert.Equal([3.0], saved.Float64Tensors[prefix + "steps"]);
            var phi = saved.Float64Tensors[prefix + "targets"];
            Assert.Equal(4, phi.Length);
            Assert.True(phi[1] != 0 && phi[2] != 0, "the targets moved from 0: the test can tell");
        });
    }

    private static Func<int, TrainerOptions> Seeded(string method) => epochs => new()
    {
        Epochs = epochs,
        BatchSize = 0,
        Step = new StepOptions { Method = method, CombinationSeed = 11, LearningRate = 0.05, MaxGradNorm = 1.0 },
    };

    /// <summary>A method's step count is float64 state, saved as the F64 tensor <c>method.{name}.steps</c> and nothing else:
    /// 3 epochs, a checkpoint and 3 more equal 6 uninterrupted epochs bit for bit, the count included (6, not the 3 a
    /// restarted counter would reach); without it the resume is refused by name. <b>pcgrad</b>: the count draws each step's
    /// projection order (two tasks here, so the order itself cannot differ;
    /// <c>CombinationPcGradTests.Its_step_count_carries_the_order_so_a_copy_continues_exactly</c> shows on T = 4 that the count
    /// decides it). <b>graddrop</b>: it keys every step's uniforms, and <b>rlw</b> every step's draw of the weights — the model
    /// included, which a count restarted at 0 would change (the resumed steps would redraw the first steps').</summary>
    [Theory]
    [InlineData("pcgrad")]
    [InlineData("graddrop")]
    [InlineData("rlw")]
    public void A_method_resumes_its_step_count_exactly(string method)
    {
        string key = TrainingStep.MethodStateBuffer + $".{method}.steps";
        AssertMethodStateResumesExactly(Seeded(method), key, (OptimizerState<float> saved) =>
        {
            Assert.DoesNotContain(saved.Tensors.Keys, k => k.Contains($".{method}.", StringComparison.Ordinal));
            Assert.Equal([key], saved.Float64Tensors.Keys);
            Assert.Equal([3.0], saved.Float64Tensors[key]);
        });
    }

    /// <summary>A method's own state (<c>method.{name}</c>): 3 epochs of <paramref name="options"/>, a checkpoint (after
    /// <paramref name="checkHalf"/> on the saved tensors), 3 more epochs from it equal 6 uninterrupted epochs bit for bit
    /// (the model, every optimizer tensor, the scalars). Without <paramref name="key"/> the resume is refused by name; a run
    /// of <c>static</c> refuses the state.</summary>
    private static void AssertMethodStateResumesExactly(Func<int, TrainerOptions> options, string key, Action<IReadOnlyDictionary<string, float[]>> checkHalf) =>
        AssertMethodStateResumesExactly(options, key, (OptimizerState<float> half) => checkHalf(half.Tensors));

    /// <summary>As above, <paramref name="checkHalf"/> seeing the whole saved state (float64 tensors too); a
    /// <paramref name="key"/> among the float64 tensors (GradVac's) is stripped from those.</summary>
    private static void AssertMethodStateResumesExactly(Func<int, TrainerOptions> options, string key, Action<OptimizerState<float>> checkHalf)
    {
        using var dir = new TempDirectory();
        string path = dir.File_("half.safetensors");
        var data = Problems.Data(32, seed: 5);

        using var uninterrupted = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var whole = new Trainer(options(6)).Fit(uninterrupted, data, cancellationToken: Ct);

        using (var first = MultiTaskModel.Create(Problems.Spec(), Cpu))
        {
            var half = new Trainer(options(3)).Fit(first, data, cancellationToken: Ct);
            checkHalf(half.OptimizerState);
            first.Save(path, optimizerState: half.OptimizerState);
        }
        var checkpoint = Checkpoint.Load(path);
        Assert.True(checkpoint.Tensors.Contains("optimizer." + key));
        using var resumed = MultiTaskModel.Load(path, Cpu);
        var rest = new Trainer(options(3) with { InitialOptimizerState = MultiTaskModel.ReadOptimizerState(checkpoint) })
            .Fit(resumed, data, cancellationToken: Ct);

        Assert.Equal(Cpu.ToArray(uninterrupted.Parameters.Values), Cpu.ToArray(resumed.Parameters.Values));
        Assert.Equal(whole.OptimizerState.Tensors.Keys.Order(), rest.OptimizerState.Tensors.Keys.Order());
        foreach (var (name, values) in whole.OptimizerState.Tensors) Assert.Equal(values, rest.OptimizerState.Tensors[name]);
        Assert.Equal(whole.OptimizerState.Scalars, rest.OptimizerState.Scalars);
        Assert.Equal(whole.OptimizerState.Float64Tensors.Keys.Order(), rest.OptimizerState.Float64Tensors.Keys.Order());
        foreach (var (name, values) in whole.OptimizerState.Float64Tensors)
            Assert.Equal(Array.ConvertAll(values, BitConverter.DoubleToInt64Bits), Array.ConvertAll(rest.OptimizerState.Float64Tensors[name], BitConverter.DoubleToInt64Bits));

        // Without it the resume is refused by name (it would restart the state); a run whose method keeps none refuses it.
        var saved = MultiTaskModel.ReadOptimizerState(checkpoint)!;
        var stripped = new OptimizerState<float>(saved.Tensors.Where(e => e.Key != key).ToDictionary(e => e.Key, e => e.Value), saved.Scalars,
            saved.Float64Tensors.Where(e => e.Key != key).ToDictionary(e => e.Key, e => e.Value));
        using var forgetful = MultiTaskModel.Load(path, Cpu);
        var missing = Assert.Throws<ArgumentException>(() =>
            new Trainer(options(1) with { InitialOptimizerState = stripped }).Fit(forgetful, data, cancellationToken: Ct));
        Assert.Contains($"'{key}'", missing.Message);
        var unknown = Assert.Throws<ArgumentException>(() =>
            new Trainer(Options(1, method: "static") with { InitialOptimizerState = saved }).Fit(forgetful, data, cancellationToken: Ct));
        Assert.Contains(key[..(key.LastIndexOf('.') + 1)], unknown.Message);
    }
}
