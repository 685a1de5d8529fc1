using System.Text;
using Engine.Checkpoints;
using Engine.Cli;
using Engine.Data;
using Engine.Kernels.Cpu;
using Engine.Tests.Cli;
using Engine.Tests.Training;

namespace Engine.Tests.Data;

/// <summary>
/// Inputs that used to give a wrong answer with exit 0 (or an internal error): Latin-1 text read as UTF-8, a relabelled
/// safetensors dtype, finite inputs that overflow after standardization, regression targets whose scale overflows float32.
/// Each is now an error naming the file, row and column — or, with the right flag, the correct answer.
/// </summary>
public class SilentlyWrongTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <summary>"café" / "cafè" as a categorical column, written in Latin-1: é = 0xE9, è = 0xE8, neither valid UTF-8 here.</summary>
    private string Latin1Csv()
    {
        var text = new StringBuilder("x,drink,y\n");
        for (int i = 0; i < 30; i++) text.Append($"{i % 7},{(i % 2 == 0 ? "café" : "cafè")},{i % 3}\n");
        var path = _dir.File_("latin1.csv");
        File.WriteAllBytes(path, Latin1.GetBytes(text.ToString()));
        return path;
    }

    [Fact]
    public void Invalid_utf8_is_an_error_naming_the_row_and_column()
    {
        var path = Latin1Csv();
        var e = Assert.Throws<DataFileException>(() => CsvTable.Load(path));
        Assert.Equal(2, e.Line);            // the first data row
        Assert.Equal("drink", e.Column);
        Assert.Contains("0xE9", e.Message);
        Assert.Contains("--encoding", e.Message);

        var cli = Mtl.Run("train", "--data", path, "--regression", "y", "--categorical", "drink", "--epochs", "1");
        Mtl.AssertFails(cli, ExitCodes.BadInput, "latin1.csv", "row 2", "drink", "UTF-8");
    }

    [Fact]
    public void With_its_encoding_a_latin1_file_keeps_cafe_and_cafe_grave_apart()
    {
        var path = Latin1Csv();
        var data = CsvTable.Load(path, text: Latin1);
        Assert.Equal(["cafè", "café"], data.Encoding.Categories["drink"].Labels.Order(StringComparer.Ordinal)); // è (0xE8) sorts before é (0xE9)

        var cli = Mtl.Run("train", "--data", path, "--regression", "y", "--categorical", "drink", "--epochs", "2", "--encoding", "latin1");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y", "--encoding", "klingon"), ExitCodes.Usage, "--encoding", "klingon");
    }

    [Fact]
    public void Invalid_utf8_deep_in_a_quoted_multi_line_field_is_located()
    {
        var bytes = new List<byte>(Encoding.UTF8.GetBytes("a;b;note\n1;2;\"first line\nsecond "));
        bytes.Add(0xFF);
        bytes.AddRange(Encoding.UTF8.GetBytes("\"\n3;4;ok\n"));
        var path = _dir.File_("semi.csv");
        File.WriteAllBytes(path, [.. bytes]);
        var e = Assert.Throws<DataFileException>(() => CsvTable.Load(path));
        Assert.Equal(3, e.Line);          // the physical line of the bad byte
        Assert.Equal("note", e.Column);   // the separator ';' detected, the quoted newline not counted as a record break
        // A valid multi-byte file (é as C3 A9, a BOM) loads.
        File.WriteAllText(path, "a,b\n1,é\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        Assert.Equal("é", CsvTable.Load(path).Encoding.Categories["b"].Labels[0]);
    }

    [Theory]
    [InlineData(SafeTensorDType.I32)]
    [InlineData(SafeTensorDType.F64)]
    [InlineData(SafeTensorDType.BF16)]
    public void A_relabelled_weight_dtype_is_refused(SafeTensorDType dtype)
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var before = model.ReadParameter("trunk.0.weight");
        var file = model.ToCheckpoint().Tensors;
        var original = file["trunk.0.weight"];
        // Same bytes, another dtype (for BF16/F64 the shape says how many elements the bytes hold, so resize the data).
        int size = dtype == SafeTensorDType.I32 ? 4 : dtype == SafeTensorDType.F64 ? 8 : 2;
        var bytes = new byte[original.ElementCount * size];
        original.Bytes[..Math.Min(bytes.Length, original.Bytes.Length)].CopyTo(bytes);
        file.Remove("trunk.0.weight");
        file.Add("trunk.0.weight", new SafeTensor(dtype, [.. original.Shape], bytes));
        var e = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(file));
        Assert.Contains("trunk.0.weight", e.Message);
        Assert.Contains($"dtype is {dtype}", e.Message);
        Assert.Equal(before, model.ReadParameter("trunk.0.weight")); // nothing changed
    }

    [Fact]
    public void A_relabelled_dtype_in_a_saved_model_is_bad_input_for_predict()
    {
        var csv = _dir.Write("d.csv", Mtl.SyntheticCsv(40));
        var model = _dir.File_("m.safetensors");
        var flags = Mtl.SyntheticTrainFlags(csv);
        flags[Array.IndexOf(flags, "--epochs") + 1] = "2";
        Assert.Equal(0, Mtl.Run([.. flags, "--save", model]).ExitCode);
        // Rewrite the header's first "F32" to "I32": same size, so the file is still well formed.
        var bytes = File.ReadAllBytes(model);
        int at = Encoding.ASCII.GetString(bytes).IndexOf("\"F32\"", StringComparison.Ordinal);
        bytes[at + 1] = (byte)'I';
        File.WriteAllBytes(model, bytes);
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", csv), ExitCodes.BadInput, "m.safetensors", "dtype is I32", "F32");
    }

    [Fact]
    public void Huge_finite_inputs_are_an_error_naming_row_and_column_in_the_cli_and_never_NaN_in_the_library()
    {
        var csv = _dir.Write("d.csv", Mtl.SyntheticCsv(40));
        var model = _dir.File_("m.safetensors");
        var flags = Mtl.SyntheticTrainFlags(csv);
        flags[Array.IndexOf(flags, "--epochs") + 1] = "2";
        Assert.Equal(0, Mtl.Run([.. flags, "--save", model]).ExitCode);
        var bad = _dir.Write("bad.csv", "x1,x2,shade\n0.5,1,light\n0.1,3e38,dark\n");
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", bad), ExitCodes.BadInput, "bad.csv", "row 3", "x2", "standard deviations");
        Mtl.AssertFails(Mtl.Run("evaluate", "--model", model, "--data", _dir.Write("bad2.csv", "x1,x2,shade,y,label\n3e38,0,light,1,pos\n")),
            ExitCodes.BadInput, "bad2.csv", "row 2", "x1");

        // The library: a finite input the network overflows on throws, naming the row and column, instead of returning NaN.
        using var m = MultiTaskModel.Create(Problems.Spec(activation: Engine.Kernels.Activation.Relu), new CpuBackend<float>());
        var inputs = new float[3 * 5];
        for (int j = 0; j < 5; j++) inputs[1 * 5 + j] = j == 3 ? 3.4e38f : 3e38f; // column 3 the largest
        var e = Assert.Throws<ArgumentException>(() => m.Predict(inputs, 3));
        Assert.Contains("row 1", e.Message);
        Assert.Contains("column 3", e.Message);
        for (int j = 0; j < 5; j++) inputs[1 * 5 + j] = 2.5f;
        Assert.All(m.Predict(inputs, 3)["reg"].Values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Regression_targets_too_large_for_float32_are_refused_at_load()
    {
        var text = new StringBuilder("x,y\n");
        for (int i = 0; i < 20; i++) text.Append($"{i},{(i % 2 == 0 ? "3.4e38" : "-3.4e38")}\n");
        var path = _dir.Write("huge.csv", text.ToString());
        var r = Mtl.Run("train", "--data", path, "--regression", "y", "--epochs", "1000000");
        Mtl.AssertFails(r, ExitCodes.BadInput, "huge.csv", "y", "too large", "overflow");
        // 1e30 is fine: |μ| + 100σ stays in range.
        var ok = _dir.Write("ok.csv", text.ToString().Replace("3.4e38", "1e30"));
        Assert.Equal(0, Mtl.Run("train", "--data", ok, "--regression", "y", "--epochs", "1").ExitCode);
    }
}
