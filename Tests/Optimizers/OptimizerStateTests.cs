using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Saving and restoring optimizer state: exact continuation, and clear errors on bad input.</summary>
public class OptimizerStateTests
{
    private static AdamOptions AdamOptions => new()
    {
        LearningRate = 0.05, AmsGrad = true, WeightDecay = 0.1, Decoupled = true,
        Schedule = new CosineSchedule(20) { WarmupSteps = 2 },
    };

    private static SgdOptions SgdOptions => new() { LearningRate = 0.1, Momentum = 0.9, Nesterov = true, Schedule = new StepSchedule(3, 0.5) };

    /// <summary>Runs steps [from, to) with gradients that depend only on the step index.</summary>
    private static void Run<T>(TestModel<T> model, IOptimizer optimizer, GradientClipper<T> clipper, int from, int to)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int s = from; s < to; s++)
        {
            var g = Tolerance.Random(model.Count, seed: 1000 + s);
            if (s == 2) g[0] = double.NaN; // one skipped step inside the saved history
            model.SetGradients(g);
            clipper.Clip(1.0);
            optimizer.Step();
        }
    }

    private static RmsPropOptions RmsPropOptions => new()
    {
        LearningRate = 0.01, Momentum = 0.9, Centered = true, WeightDecay = 0.01, Schedule = new StepSchedule(3, 0.5),
    };

    private static AdagradOptions AdagradOptions => new()
    {
        LearningRate = 0.05, LearningRateDecay = 0.1, InitialAccumulatorValue = 0.1, WeightDecay = 0.01, Schedule = new StepSchedule(3, 0.5),
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (string optimizer in new[] { "adam", "sgd", "rmsprop", "adagrad" })
                data.Add(device.Data, optimizer);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Save_then_restore_continues_the_identical_trajectory(string device, string optimizer)
    {
        var backend = TestDevices.Get(device);
        var theta0 = Tolerance.Random(23, seed: 77);
        IOptimizer<float> Create(TestModel<float> m) => optimizer switch
        {
            "adam" => new Adam<float>(backend, m.Parameters, AdamOptions),
            "sgd" => new Sgd<float>(backend, m.Parameters, SgdOptions),
            "adagrad" => new Adagrad<float>(backend, m.Parameters, AdagradOptions),
            _ => new RmsProp<float>(backend, m.Parameters, RmsPropOptions),
        };

        // Uninterrupted: 8 steps.
        using var a = new TestModel<float>(backend, 20, 3);
        a.SetValues(theta0);
        using var optA = Create(a);
        using var clipA = new GradientClipper<float>(backend, a.Parameters, optA.Control);
        Run(a, optA, clipA, 0, 8);

        // Interrupted after 5: save, restore into a fresh optimizer over a fresh model, run 3 more.
        using var b = new TestModel<float>(backend, 20, 3);
        b.SetValues(theta0);
        using var optB = Create(b);
        using var clipB = new GradientClipper<float>(backend, b.Parameters, optB.Control);
        Run(b, optB, clipB, 0, 5);
        var state = optB.SaveState();
        var values = b.RawValues();

        using var c = new TestModel<float>(backend, 20, 3);
        backend.Upload<float>(values, c.Parameters.Values);
        using var optC = Create(c);
        using var clipC = new GradientClipper<float>(backend, c.Parameters, optC.Control);
        optC.LoadState(state);
        Assert.Equal(5, optC.StepsTaken);
        Assert.Equal(4, optC.Control.ReadStepCount());
        Assert.Equal(1, optC.Control.ReadSkippedSteps());
        Run(c, optC, clipC, 5, 8);

        if (device == TestDevices.Cpu)
            Assert.Equal(a.RawValues(), c.RawValues()); // bit for bit: the CPU reductions are deterministic
        else // ILGPU's norm adds groups with float atomics, so the clip scale may differ in its last bit between runs
            Tolerance.AllClose(Tolerance.ToDouble(a.RawValues()), c.RawValues(), 1e-6, 1e-7, $"θ on {device}");
    }

    [Fact]
    public void State_is_named_per_parameter_like_PyTorch()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 4, 2);
        using var adam = new Adam<double>(model.Backend, model.Parameters, AdamOptions);
        var state = adam.SaveState();
        Assert.Equal(["exp_avg.p0", "exp_avg.p1", "exp_avg_sq.p0", "exp_avg_sq.p1", "max_exp_avg_sq.p0", "max_exp_avg_sq.p1"], state.Tensors.Keys.Order());
        Assert.Equal(4, state.Tensors["exp_avg_sq.p0"].Length);
        Assert.Equal(["schedule_step", "skipped_steps", "step"], state.Scalars.Keys.Order());

        using var sgd = new Sgd<double>(model.Backend, model.Parameters, SgdOptions);
        Assert.Equal(["momentum_buffer.p0", "momentum_buffer.p1"], sgd.SaveState().Tensors.Keys.Order());
    }

    [Fact]
    public void Restoring_bad_state_throws_naming_the_entry_and_changes_nothing()
    {
        using var model = new TestModel<double>(TestDevices.Reference, 4, 2);
        using var adam = new Adam<double>(model.Backend, model.Parameters, AdamOptions);
        using var clipper = new GradientClipper<double>(model.Backend, model.Parameters, adam.Control);
        Run(model, adam, clipper, 0, 4); // non-zero moments, t = 3, one skipped step: a partial load would show
        var good = adam.SaveState();
        var parameters = model.Backend.ToArray(model.Parameters.Values);

        // Each bad state is otherwise valid and DIFFERENT from the current one (every tensor + 1), so a load that
        // uploaded some entries before finding the bad one would change the moments.
        OptimizerState<double> With(Action<Dictionary<string, double[]>, Dictionary<string, double>> edit)
        {
            var tensors = good.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Select(v => v + 1).ToArray());
            var scalars = good.Scalars.ToDictionary(kv => kv.Key, kv => kv.Value);
            edit(tensors, scalars);
            return new OptimizerState<double>(tensors, scalars);
        }

        var unknown = Assert.Throws<ArgumentException>(() => adam.LoadState(With((t, _) => t["exp_avg.p9"] = new double[4])));
        Assert.Contains("'exp_avg.p9'", unknown.Message);
        var missing = Assert.Throws<ArgumentException>(() => adam.LoadState(With((t, _) => t.Remove("max_exp_avg_sq.p1"))));
        Assert.Contains("'max_exp_avg_sq.p1' is missing", missing.Message);
        var length = Assert.Throws<ArgumentException>(() => adam.LoadState(With((t, _) => t["exp_avg.p0"] = new double[3])));
        Assert.Contains("has 3 elements but the parameter has 4", length.Message);
        var scalar = Assert.Throws<ArgumentException>(() => adam.LoadState(With((_, s) => s["step"] = 1.5)));
        Assert.Contains("'step'", scalar.Message);
        var unknownScalar = Assert.Throws<ArgumentException>(() => adam.LoadState(With((_, s) => s["lr"] = 1)));
        Assert.Contains("'lr'", unknownScalar.Message);

        // An SGD state does not fit an Adam optimizer.
        using var sgd = new Sgd<double>(model.Backend, model.Parameters, SgdOptions);
        Assert.Throws<ArgumentException>(() => adam.LoadState(sgd.SaveState()));

        // Nothing changed: moments (m, v, vMax), counters and parameters bit for bit.
        var after = adam.SaveState();
        Assert.Equal(good.Tensors.Keys.Order(), after.Tensors.Keys.Order());
        foreach (var (name, values) in good.Tensors)
        {
            Assert.Contains(values, v => v != 0); // the comparison is not of zeros with zeros
            Assert.Equal(Bits(values), Bits(after.Tensors[name]));
        }
        Assert.Equal(good.Scalars, after.Scalars);
        Assert.Equal(4, adam.StepsTaken);
        Assert.Equal(Bits(parameters), Bits(model.Backend.ToArray(model.Parameters.Values)));
    }

    private static long[] Bits(double[] values) => Array.ConvertAll(values, BitConverter.DoubleToInt64Bits);
}
