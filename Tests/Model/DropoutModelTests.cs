using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Model;

/// <summary>
/// <see cref="ModelSpec.Dropout"/> in a model: dropout layers after the trunk's and the towers' dense layers (no parameters,
/// initial weights unchanged), the identity at prediction, a reproducible run (same seed, same weights bit for bit), the
/// same steps on the ILGPU kernels as on the SIMD CPU path (the masks are identical; the rest within float32 tolerance),
/// the spec's JSON, range errors naming the field, and a warm step with dropout allocating nothing.
/// </summary>
public class DropoutModelTests
{
    private static ModelSpec Spec(double dropout, Architecture? architecture = null) =>
        Problems.Spec(tower: [4]) with { Dropout = dropout, Architecture = architecture };

    private static float[] Train(ModelSpec spec, Backend<float> backend, int steps, CombinationMethod combination = CombinationMethod.Sum)
    {
        using var model = MultiTaskModel.Create(spec, backend);
        using var data = DeviceDataset.Upload(model, Problems.Data(16, seed: 3));
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.05, Combination = combination }, 16);
        for (int s = 0; s < steps; s++) step.Run(data, 0, 16);
        return backend.ToArray(model.Parameters.Values);
    }

    [Fact]
    public void Dropout_layers_add_no_parameter_and_change_no_initial_weight_and_predict_is_the_identity()
    {
        var cpu = new CpuBackend<float>();
        using var plain = MultiTaskModel.Create(Spec(0), cpu);
        using var dropped = MultiTaskModel.Create(Spec(0.5), cpu);
        Assert.Equal(plain.Parameters.Slots.Select(s => s.Name), dropped.Parameters.Slots.Select(s => s.Name));
        Assert.Equal(cpu.ToArray(plain.Parameters.Values), cpu.ToArray(dropped.Parameters.Values));
        var trunk = ((SharedBottom<float>)dropped.Shared).Trunk.Layers.Select(l => l.Name);
        Assert.Equal(["trunk.0", "trunk.0.dropout", "trunk.1", "trunk.1.dropout"], trunk);
        Assert.Equal(["towers.reg.0", "towers.reg.0.dropout"], dropped.Towers[0]!.Layers.Select(l => l.Name));
        var x = Problems.Data(9, seed: 5).Inputs;
        var a = plain.Predict(x, 9);
        var b = dropped.Predict(x, 9);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_run_is_reproducible_and_dropout_changes_it(CombinationMethod combination)
    {
        var cpu = new CpuBackend<float>();
        var first = Train(Spec(0.3), cpu, 4, combination);
        Assert.Equal(first, Train(Spec(0.3), cpu, 4, combination));
        Assert.NotEqual(first, Train(Spec(0), cpu, 4, combination));
    }

    /// <summary>Three steps on ILGPU's CPU accelerator (or CUDA) against the SIMD CPU path, MMoE with towers and dropout 0.3:
    /// the same masks, so the weights agree within float32 summation-order tolerance (rtol 1e-4, atol 1e-5).</summary>
    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Steps_with_dropout_on_the_ilgpu_kernels_match_the_cpu_path(string device)
    {
        var spec = Spec(0.3, new MmoeArchitecture(2));
        var expected = Train(spec, new CpuBackend<float>(), 3, CombinationMethod.PcGrad);
        var actual = Train(spec, TestDevices.Get(device), 3, CombinationMethod.PcGrad);
        Tolerance.AllClose(Tolerance.ToDouble(expected), actual, 1e-4, 1e-5, "parameters");
    }

    [Fact]
    public void The_spec_stores_dropout_only_when_set_and_refuses_a_probability_outside_0_1()
    {
        Assert.DoesNotContain("dropout", Spec(0).ToJson());
        var json = Spec(0.25).ToJson();
        Assert.Contains("\"dropout\":0.25", json);
        Assert.Equal(0.25, ModelSpec.FromJson(json).Dropout);
        foreach (double p in new[] { 1.0, -0.1, double.NaN, 2 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Spec(p).Validate());
            Assert.Equal("Dropout", e.ParamName);
            Assert.Contains("--dropout", e.Message);
        }
    }

    [Fact]
    public void A_warm_step_with_dropout_allocates_nothing() =>
        AllocationTests.AssertWarmStepAllocatesNothing(Spec(0.2, new MmoeArchitecture(2)), CombinationMethod.PcGrad);
}
