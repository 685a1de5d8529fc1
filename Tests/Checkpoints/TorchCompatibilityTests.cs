using System.Text.Json;
using Engine.Checkpoints;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// Files written by PyTorch load. The fixture (Tests/Fixtures/make_torch_checkpoint.py, run with torch
/// 1.13) holds the state_dict of a seeded <c>nn.Sequential(Linear(4,6), ReLU, Linear(6,5), Tanh, Linear(5,3))</c>
/// plus F64/I64/I32 tensors, laid out as <c>safetensors.torch.save_file</c> lays them out; the JSON beside
/// it holds every value and torch's output on a fixed input.
/// </summary>
public class TorchCompatibilityTests
{
    private static readonly string FixturePath = BundledFiles.Fixture("torch_mlp.safetensors");
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture("torch_mlp.json"))).RootElement;

    private static long[] Shape(JsonElement e) => e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
    private static double[] Values(JsonElement e) => e.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();

    [Fact]
    public void Every_tensor_loads_with_torchs_shape_and_exact_values()
    {
        var file = SafeTensorsFile.Load(FixturePath);
        var tensors = Reference.GetProperty("tensors");
        Assert.Equal(tensors.EnumerateObject().Select(p => p.Name).Order(), file.Names.Order());
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var entry in tensors.EnumerateObject())
        {
            var t = file[entry.Name];
            Assert.Equal(Shape(entry.Value), t.Shape);
            var expected = Values(entry.Value);
            switch (t.DType)
            {
                case SafeTensorDType.F32: // the JSON holds float32 values widened to double: exact
                    Assert.Equal(expected.Select(v => (float)v), t.ToFloat32());
                    break;
                case SafeTensorDType.F64:
                    Assert.Equal(expected, t.ToFloat64());
                    break;
                default:
                    Assert.Equal(entry.Value.GetProperty("values").EnumerateArray().Select(v => v.GetInt64()), t.ToInt64());
                    break;
            }
        }
        Assert.Equal(SafeTensorDType.F64, file["extra.f64"].DType);
        Assert.Equal(SafeTensorDType.I64, file["extra.i64"].DType);
        Assert.Equal([-(1L << 40), -1, 0, 7, (1L << 40) + 3], file["extra.i64"].ToInt64());
        Assert.Equal([-5, 0, int.MaxValue, int.MinValue], file["extra.i32"].ToInt32());
    }

    [Fact]
    public void Weights_are_out_by_in_a_naive_forward_reproduces_torchs_output()
    {
        // y = W x + b with W read row-major as [out, in] — the layout the model will use.
        var file = SafeTensorsFile.Load(FixturePath);
        var x = Values(Reference.GetProperty("input"));
        int batch = (int)Shape(Reference.GetProperty("input"))[0];
        var expected = Values(Reference.GetProperty("output"));
        var layers = new (string Prefix, Func<double, double> Activation)[]
        {
            ("0", v => Math.Max(0, v)), ("2", Math.Tanh), ("4", v => v),
        };
        var output = new List<double>();
        for (int r = 0; r < batch; r++)
        {
            double[] h = x.Skip(r * 4).Take(4).ToArray();
            foreach (var (prefix, activation) in layers)
            {
                var w = file[prefix + ".weight"];
                int outputs = (int)w.Shape[0], inputs = (int)w.Shape[1];
                Assert.Equal(h.Length, inputs);
                var wv = w.ToFloat64();
                var b = file[prefix + ".bias"].ToFloat64();
                var next = new double[outputs];
                for (int o = 0; o < outputs; o++)
                {
                    double sum = b[o];
                    for (int i = 0; i < inputs; i++) sum += wv[o * inputs + i] * h[i];
                    next[o] = activation(sum);
                }
                h = next;
            }
            output.AddRange(h);
        }
        // torch computed in float32; the reference here is float64: agree to float32 rounding.
        Tolerance.AllClose(expected, output.Select(v => (float)v).ToArray(), rtol: 1e-5, atol: 1e-6, "torch output");
    }

    [Fact]
    public void Rewriting_the_torch_file_gives_the_same_bytes()
    {
        // Our writer emits the same header spelling, order and padding as the reference layout.
        var file = SafeTensorsFile.Load(FixturePath);
        Assert.Equal(File.ReadAllBytes(FixturePath), file.ToBytes());
    }

    [Fact]
    public void Torch_file_loads_as_a_checkpoint_without_engine_metadata()
    {
        var checkpoint = Checkpoint.Load(FixturePath);
        Assert.Null(checkpoint.ConfigJson);
        Assert.Null(checkpoint.Standardization);
        Assert.Null(checkpoint.Encoding);
        Assert.False(checkpoint.HasOptimizerState);
        Assert.Equal([6L, 4L], checkpoint.Tensors.Require("0.weight", 6, 4).Shape);
    }
}
