using Engine.Export;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Engine.Tests.Model;

/// <summary>
/// <see cref="ModelSpec.Embeddings"/> in a model: the tables <c>embeddings.{t}.weight</c> [(categories + 1) × dim] head the
/// shared block (combiners act on them), start N(0, 1) and feed the trunk after the numeric inputs; a checkpoint restores
/// them and the predictions; the reserved index predicts, an index outside [0, categories] or not an integer is refused
/// naming its row and column; three PCGrad steps on the ILGPU kernels match the CPU path (rtol 1e-4, atol 1e-5); the ONNX
/// export (Slice, Clip, Cast, Gather, Flatten, Concat) predicts what the model does (onnxruntime, atol 1e-5); a warm step
/// with embeddings and dropout allocates nothing.
/// </summary>
public class EmbeddingModelTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Problems' 5 inputs, the last two embedded: u (5 categories, dim 3) and v (3 categories, dim 2).</summary>
    private static ModelSpec Spec(Architecture? architecture = null, double dropout = 0) =>
        Problems.Spec(tower: [4]) with { Architecture = architecture, Dropout = dropout, Embeddings = [new("u", 5, 3), new("v", 3, 2)] };

    /// <summary>Problems.Data with inputs 3 and 4 turned into category indices (u ∈ 0…5, v ∈ 0…3, 5 and 3 the reserved ones).</summary>
    private static TrainingData Data(int rows, int seed)
    {
        var data = Problems.Data(rows, seed);
        var x = (float[])data.Inputs.Clone();
        for (int r = 0; r < rows; r++)
        {
            x[r * 5 + 3] = MathF.Floor((x[r * 5 + 3] + 1) * 2.99f);     // 0…5
            x[r * 5 + 4] = MathF.Floor((x[r * 5 + 4] + 1) * 1.99f);     // 0…3
        }
        return new TrainingData(x, 5, data.Tasks);
    }

    [Fact]
    public void The_tables_head_the_shared_block_and_feed_the_trunk()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(), cpu);
        Assert.Equal(["embeddings.0.weight", "embeddings.1.weight", "trunk.0.weight"], model.Parameters.Slots.Take(3).Select(s => s.Name));
        Assert.Equal([6, 3], model.Parameters["embeddings.0.weight"].Shape);
        Assert.Equal([4, 2], model.Parameters["embeddings.1.weight"].Shape);
        Assert.Equal([8, 3 + 3 + 2], model.Parameters["trunk.0.weight"].Shape);
        Assert.Equal(0, model.SharedParameters.Offset);
        Assert.Equal(18 + 8 + (8 * 8 + 8) + (6 * 8 + 6), model.SharedParameters.Length);
        Assert.Equal(8, model.Spec.SharedInputs);
        var table = model.ReadParameter("embeddings.0.weight");
        Assert.InRange(table.Average(), -1.0, 1.0);
        Assert.InRange(table.Max() - table.Min(), 1.0, 8.0);                 // N(0, 1), not U(±1/√in)
        Assert.True(Spec().ToJson().Contains("\"embeddings\":[{\"column\":\"u\",\"categories\":5,\"dim\":3}", StringComparison.Ordinal), Spec().ToJson());
        Assert.DoesNotContain("embeddings", Problems.Spec().ToJson());
        Assert.Equal(Spec(), ModelSpec.FromJson(Spec().ToJson()));
    }

    [Fact]
    public void A_checkpoint_restores_the_tables_and_the_predictions()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(new MmoeArchitecture(2)), cpu);
        var path = _dir.File_("embedded.safetensors");
        model.Save(path);
        using var loaded = MultiTaskModel.Load(path, cpu);
        Assert.Equal(2, loaded.Spec.EmbeddedColumns.Count);
        foreach (var slot in model.Parameters.Slots) Assert.Equal(model.ReadParameter(slot.Name), loaded.ReadParameter(slot.Name));
        var x = Data(9, seed: 2).Inputs;
        var a = model.Predict(x, 9);
        var b = loaded.Predict(x, 9);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);
    }

    [Fact]
    public void The_reserved_index_predicts_and_an_index_outside_the_vocabulary_is_refused()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(), cpu);
        float[] row = [0.1f, 0.2f, 0.3f, 5, 3];                               // both reserved: unseen categories
        var unseen = model.Predict(row, 1);
        row[3] = 0;
        Assert.NotEqual(unseen.Tasks[0].Values, model.Predict(row, 1).Tasks[0].Values);   // another table row, another prediction
        foreach (var (bad, column) in new[] { (6f, 3), (-1f, 3), (1.5f, 4) })
        {
            float[] x = [0, 0, 0, 0, 0, /* row 1: */ 0, 0, 0, 0, 0];
            x[5 + column] = bad;
            var e = Assert.Throws<ArgumentException>(() => model.Predict(x, 2));
            Assert.Contains($"[row 1, column {column}]", e.Message);
            Assert.Contains(column == 3 ? "'u'" : "'v'", e.Message);
        }
    }

    private static float[] Train(ModelSpec spec, Backend<float> backend) => LayerNormModelTests.Train(spec, backend, Data(16, seed: 3));

    [Theory]
    [InlineData(TestDevices.IlgpuCpu)]
    [InlineData(TestDevices.Cuda)]
    public void Steps_with_embeddings_on_the_ilgpu_kernels_match_the_cpu_path(string device)
    {
        var spec = Spec(new MmoeArchitecture(2), dropout: 0.1);
        var cpu = Train(spec, new CpuBackend<float>());
        using (var initial = MultiTaskModel.Create(spec, new CpuBackend<float>()))
            Assert.NotEqual(initial.ReadParameter("embeddings.0.weight"), cpu[..18]);          // the tables did train
        Tolerance.AllClose(Tolerance.ToDouble(cpu), Train(spec, TestDevices.Get(device)), 1e-4, 1e-5, "parameters");
    }

    [Fact]
    public void The_onnx_export_gathers_what_the_model_does()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Spec(new MmoeArchitecture(2)), cpu);
        var x = Data(12, seed: 4).Inputs;
        x[3] = 5; x[4] = 3;                                                   // row 0: both unseen
        var expected = model.Predict(x, 12);
        var onnx = _dir.File_("embedded.onnx");
        model.ExportOnnx(onnx);
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, new DenseTensor<float>(x, [12, 5]))]);
        var outputs = results.ToDictionary(o => o.Name, o => o.AsTensor<float>().ToArray());
        Tolerance.AllClose(Tolerance.ToDouble(expected.Tasks[0].Values), outputs["reg"], 1e-5, 1e-5, "reg");
        Tolerance.AllClose(Tolerance.ToDouble(expected.Tasks[1].Values), outputs["cls.logits"], 1e-5, 1e-5, "cls logits");
    }

    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_warm_step_with_embeddings_allocates_nothing(CombinationMethod combination) =>
        AllocationTests.AssertWarmStepAllocatesNothing(Spec(new MmoeArchitecture(2), dropout: 0.1), combination, Data(64, seed: 1));
}
