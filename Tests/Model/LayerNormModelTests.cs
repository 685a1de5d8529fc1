using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Model;

/// <summary>
/// <see cref="ModelSpec.LayerNorm"/> in a model: γ, β per dense layer of the trunk, the experts (one row per expert) and the
/// towers, named <c>{layer}.norm.weight</c>/<c>.bias</c>, starting at 1 and 0 without changing the dense layers' initial
/// weights; a checkpoint restores them (and the predictions); three steps on the ILGPU kernels match the CPU path; a warm
/// step with layer norms and dropout allocates nothing.
/// </summary>
public class LayerNormModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelSpec Spec(bool layerNorm, Architecture? architecture = null, double dropout = 0) =>
        Problems.Spec(tower: [4]) with { LayerNorm = layerNorm, Architecture = architecture, Dropout = dropout };

    [Fact]
    public void Gamma_and_beta_sit_after_each_dense_layer_and_start_at_one_and_zero()
    {
        var cpu = new CpuBackend<float>();
        using var plain = MultiTaskModel.Create(Spec(false), cpu);
        using var normed = MultiTaskModel.Create(Spec(true), cpu);
        Assert.Equal(["trunk.0.weight", "trunk.0.bias", "trunk.0.norm.weight", "trunk.0.norm.bias", "trunk.1.weight", "trunk.1.bias",
            "trunk.1.norm.weight", "trunk.1.norm.bias"], normed.Parameters.Slots.Take(8).Select(s => s.Name));
        Assert.Contains(normed.Parameters.Slots, s => s.Name == "towers.reg.0.norm.weight");
        Assert.Equal(normed.SharedParameters.Length, plain.SharedParameters.Length + 2 * (8 + 6));
        foreach (var slot in plain.Parameters.Slots) Assert.Equal(plain.ReadParameter(slot.Name), normed.ReadParameter(slot.Name));
        Assert.All(normed.ReadParameter("trunk.1.norm.weight"), v => Assert.Equal(1f, v));
        Assert.All(normed.ReadParameter("trunk.1.norm.bias"), v => Assert.Equal(0f, v));

        using var mmoe = MultiTaskModel.Create(Spec(true, new MmoeArchitecture(3)), cpu);
        Assert.Equal([3, 8], mmoe.Parameters["experts.0.norm.weight"].Shape);
        Assert.Contains("\"layerNorm\":true", Spec(true).ToJson());
        Assert.DoesNotContain("layerNorm", Spec(false).ToJson());
    }

    [Fact]
    public void A_checkpoint_restores_gamma_and_beta_and_the_predictions()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(true, new MmoeArchitecture(2)), cpu);
        var random = new Random(5);
        foreach (var slot in model.Parameters.Slots.Where(s => s.Name.Contains(".norm.")))
            model.WriteParameter(slot.Name, [.. Enumerable.Range(0, slot.Length).Select(_ => (float)(random.NextDouble() * 2 - 0.5))]);
        var path = _dir.File_("normed.safetensors");
        model.Save(path);
        using var loaded = MultiTaskModel.Load(path, cpu);
        Assert.True(loaded.Spec.LayerNorm);
        foreach (var slot in model.Parameters.Slots) Assert.Equal(model.ReadParameter(slot.Name), loaded.ReadParameter(slot.Name));
        var x = Problems.Data(7, seed: 2).Inputs;
        var a = model.Predict(x, 7);
        var b = loaded.Predict(x, 7);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
    }

    /// <summary>Three PCGrad steps (lr 0.05) on 16 rows (default: Problems.Data(16, seed 3)); the parameters after them.
    /// Also used by the embedding tests.</summary>
    internal static float[] Train(ModelSpec spec, Backend<float> backend, TrainingData? rows = null)
    {
        using var model = MultiTaskModel.Create(spec, backend);
        using var data = DeviceDataset.Upload(model, rows ?? Problems.Data(16, seed: 3));
        using var step = new TrainingStep(model, new StepOptions { LearningRate = 0.05, Combination = CombinationMethod.PcGrad }, 16);
        for (int s = 0; s < 3; s++) step.Run(data, 0, 16);
        return backend.ToArray(model.Parameters.Values);
    }

    /// <summary>PLE (2 levels) with layer norms, towers and dropout 0.2: three PCGrad steps on ILGPU's CPU accelerator (or CUDA)
    /// within rtol 1e-4, atol 1e-5 of the SIMD CPU path.</summary>
    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Steps_with_layer_norms_on_the_ilgpu_kernels_match_the_cpu_path(string device)
    {
        var spec = Spec(true, new PleArchitecture(1, 1, 2), dropout: 0.2);
        Tolerance.AllClose(Tolerance.ToDouble(Train(spec, new CpuBackend<float>())), Train(spec, TestDevices.Get(device)), 1e-4, 1e-5, "parameters");
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_warm_step_with_layer_norms_allocates_nothing(CombinationMethod combination) =>
        AllocationTests.AssertWarmStepAllocatesNothing(Spec(true, new MmoeArchitecture(2), dropout: 0.1), combination);
}
