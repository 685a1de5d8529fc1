using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Cli;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// The open method interface: every method of the library is reachable by its registry name, the older enum
/// properties are exact aliases (bit-identical parameters after several steps), typed options are checked and reach the
/// method, a method registered from outside the library trains, and the CLI lists and takes them.
/// </summary>
public class MethodRegistryTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 16;

    private static float[] Train(StepOptions options, int steps = 3)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(Rows, seed: 21));
        using var step = new TrainingStep(model, options with { LearningRate = 0.01 }, Rows);
        for (int s = 0; s < steps; s++) step.Run(device, 0, Rows);
        return Cpu.ToArray(model.Parameters.Values);
    }

    public static TheoryData<string> Names => [.. MethodRegistry.All.Select(m => m.Name)];

    [Fact]
    public void The_library_registers_its_methods_under_libmtl_lower_case_names()
    {
        string[] expected = ["equal", "static", "loss-balanced", "accuracy", "dwa", "uncertainty", "gls", "rlw", "sum", "projection", "pcgrad", "cagrad", "mgda"];
        foreach (var name in expected) Assert.True(MethodRegistry.Contains(name), name);
        foreach (var m in MethodRegistry.All)
        {
            Assert.Equal(m.Name.ToLowerInvariant(), m.Name);
            Assert.False(string.IsNullOrWhiteSpace(m.Summary), m.Name);
        }
    }

    [Theory]
    [InlineData(WeightingMethod.Static, CombinationMethod.Sum, "static+sum")]
    [InlineData(WeightingMethod.LossBalanced, CombinationMethod.Sum, "loss-balanced")]
    [InlineData(WeightingMethod.Dwa, CombinationMethod.Sum, "dwa")]
    [InlineData(WeightingMethod.Uncertainty, CombinationMethod.Sum, "uncertainty")]
    [InlineData(WeightingMethod.Static, CombinationMethod.Projection, "projection")]
    [InlineData(WeightingMethod.Static, CombinationMethod.PcGrad, "pcgrad")]
    [InlineData(WeightingMethod.Static, CombinationMethod.Mgda, "static+mgda")]
    [InlineData(WeightingMethod.Static, CombinationMethod.CaGrad, "cagrad")]
    [InlineData(WeightingMethod.Uncertainty, CombinationMethod.PcGrad, "uncertainty+pcgrad")]
    [InlineData(WeightingMethod.LossBalanced, CombinationMethod.CaGrad, "cagrad+loss-balanced")]
    public void The_older_enums_are_exact_aliases_of_the_registry_names(WeightingMethod weighting, CombinationMethod combination, string method)
    {
        var legacy = Train(new StepOptions { Weighting = weighting, Combination = combination, CombinationSeed = 5 });
        var named = Train(new StepOptions { Method = method, CombinationSeed = 5 });
        Assert.Equal(legacy, named); // bit for bit: the same classes with the same options
    }

    [Fact]
    public void Typed_older_properties_alias_options_and_both_at_once_is_refused()
    {
        Assert.Equal(Train(new StepOptions { Combination = CombinationMethod.CaGrad, CaGradC = 0.8 }),
                     Train(new StepOptions { Method = "cagrad", MethodOptions = new Dictionary<string, string> { ["c"] = "0.8" } }));
        Assert.Equal(Train(new StepOptions { Combination = CombinationMethod.PcGrad, PcGradReduction = PcGradReduction.Mean }),
                     Train(new StepOptions { Method = "pcgrad", MethodOptions = new Dictionary<string, string> { ["pcgrad.reduction"] = "mean" } }));
        Assert.NotEqual(Train(new StepOptions { Method = "cagrad" }), Train(new StepOptions { Method = "cagrad", MethodOptions = new Dictionary<string, string> { ["c"] = "0.8" } }));

        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var both = Assert.Throws<ArgumentException>(() => new TrainingStep(model,
            new StepOptions { Combination = CombinationMethod.CaGrad, CaGradC = 0.8, MethodOptions = new Dictionary<string, string> { ["c"] = "0.3" } }, Rows));
        Assert.Contains("CaGradC", both.Message);
        var twice = Assert.Throws<ArgumentException>(() => new TrainingStep(model, new StepOptions { Method = "pcgrad", Combination = CombinationMethod.CaGrad }, Rows));
        Assert.Contains("StepOptions.Method", twice.Message);
    }

    [Theory]
    [InlineData("nope", null, null, "Unknown method 'nope'")]
    [InlineData("pcgrad+cagrad", null, null, "two gradient methods")]
    [InlineData("dwa+uncertainty", null, null, "two loss weightings")]
    [InlineData("cagrad", "c", "-1", "option 'c': '-1' is not allowed (expected real ≥ 0)")]
    [InlineData("cagrad", "c", "abc", "'abc' is not allowed")]
    [InlineData("cagrad", "rescale", "3", "expected 0|1|2")]
    [InlineData("cagrad", "max-iterations", "0", "expected integer ≥ 1")]
    [InlineData("cagrad", "radius", "1", "No option 'radius' for 'cagrad' (its options: c, rescale, max-iterations, tolerance)")]
    [InlineData("projection", "reference", "other", "'other' is not a task (the tasks: reg, cls")]
    [InlineData("dwa+pcgrad", "mgda.max-iterations", "5", "for method 'mgda', which 'dwa+pcgrad' does not use")]
    public void Bad_names_and_options_are_refused_naming_them(string method, string? key, string? value, string fragment)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var options = key is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [key] = value! };
        var e = Assert.Throws<ArgumentException>(() => new TrainingStep(model, new StepOptions { Method = method, MethodOptions = options }, Rows));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void An_option_both_methods_of_a_pair_declare_must_be_qualified()
    {
        var half = new MethodDescriptor("test-tolerant", "a weighting with a 'tolerance' option", "—", MethodNeeds.None,
            [MethodOption.Real("tolerance", 1, "unused")], weighting: c => new StaticWeighting<float>(c.Backend, [1, 1]));
        if (!MethodRegistry.Contains(half.Name)) MethodRegistry.Register(half);
        var e = Assert.Throws<ArgumentException>(() => MethodRegistry.Resolve("test-tolerant+mgda", new Dictionary<string, string> { ["tolerance"] = "1e-9" }, ["a", "b"]));
        Assert.Contains("write 'test-tolerant.tolerance' or 'mgda.tolerance'", e.Message);
        var plan = MethodRegistry.Resolve("test-tolerant+mgda", new Dictionary<string, string> { ["mgda.tolerance"] = "1e-9" }, ["a", "b"]);
        Assert.Equal(1e-9, plan.GradientArguments.Real("tolerance"));
        Assert.Equal(1, plan.WeightingArguments.Real("tolerance"));
    }

    /// <summary>The open interface: a weighting registered by a user trains with the step, its weights reaching the loss.</summary>
    [Fact]
    public void A_method_registered_outside_the_library_trains()
    {
        var method = new MethodDescriptor("test-scaled", "λᵢ = the option 'scale' for every task", "—", MethodNeeds.None,
            [MethodOption.Real("scale", 1, "the weight", min: 0)],
            weighting: c => new StaticWeighting<float>(c.Backend, Enumerable.Repeat(c.Arguments.Real("scale"), c.Tasks).ToArray()));
        if (!MethodRegistry.Contains(method.Name)) MethodRegistry.Register(method);
        Assert.Throws<ArgumentException>(() => MethodRegistry.Register(method)); // names are unique

        // λ = (1, 1) through the user's method is the same as the library's 'equal', bit for bit; λ = 3 is not.
        Assert.Equal(Train(new StepOptions { Method = "equal" }), Train(new StepOptions { Method = "test-scaled" }));
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var step = new TrainingStep(model, new StepOptions { Method = "test-scaled", MethodOptions = new Dictionary<string, string> { ["scale"] = "3" } }, Rows);
        Assert.Equal([3f, 3f], Cpu.ToArray(step.Weighting.Weights));
        Assert.Contains("test-scaled", MethodRegistry.All.Select(m => m.Name));
    }

    [Fact]
    public void Cagrad_rescale_and_solver_limits_reach_the_combiner()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var step = new TrainingStep(model, new StepOptions
        {
            Method = "cagrad",
            MethodOptions = new Dictionary<string, string> { ["rescale"] = "0", ["max-iterations"] = "7", ["tolerance"] = "1e-6", ["c"] = "0.25" },
        }, Rows);
        var settings = Assert.IsType<CaGradCombiner<float>>(step.Combiner).Settings;
        Assert.Equal((CaGradRescale.None, 7, 1e-6, 0.25), (settings.Rescale, settings.MaxIterations, settings.Tolerance, settings.C));
        using var mgda = new TrainingStep(model, new StepOptions { Method = "mgda", MethodOptions = new Dictionary<string, string> { ["max-iterations"] = "3" } }, Rows);
        Assert.Equal(3, Assert.IsType<MgdaCombiner<float>>(mgda.Combiner).Settings.MaxIterations);
    }

    [Fact]
    public void Mtl_methods_lists_every_registered_method_with_its_options()
    {
        var result = Mtl.Run("methods");
        Assert.Equal(0, result.ExitCode);
        foreach (var m in MethodRegistry.All)
        {
            Assert.Contains($"  {m.Name} ", result.Output);
            foreach (var o in m.Options) Assert.Contains($"{o.Name}={o.Default}", result.Output);
        }
        Assert.Contains("c=0.5  [real ≥ 0]", result.Output);
    }

    [Fact]
    public void Mtl_train_takes_method_and_method_option_and_refuses_bad_ones_with_exit_2()
    {
        string csv = Path.Combine(Path.GetTempPath(), $"methods-{Guid.NewGuid():N}.csv");
        File.WriteAllText(csv, Mtl.SyntheticCsv());
        try
        {
            string[] flags = [.. Mtl.SyntheticTrainFlags(csv).Select(f => f == "40" ? "2" : f)];
            var ok = Mtl.Run([.. flags, "--method", "dwa+cagrad", "--method-option", "c=0.3", "--method-option", "temperature=1.5"]);
            Assert.True(ok.ExitCode == 0, ok.ToString());
            Mtl.AssertFails(Mtl.Run([.. flags, "--method", "cagrad", "--method-option", "c=x"]), 2, "--method-option", "option 'c': 'x'");
            Mtl.AssertFails(Mtl.Run([.. flags, "--method", "cagrad", "--combine", "pcgrad"]), 2, "--method cagrad", "aliases");
            Mtl.AssertFails(Mtl.Run([.. flags, "--method", "sgd"]), 2, "Unknown method 'sgd'");
            Mtl.AssertFails(Mtl.Run([.. flags, "--method", "pcgrad", "--method-option", "c"]), 2, "'c' is not KEY=VALUE");
        }
        finally { File.Delete(csv); }
    }
}
