using System.Text;
using Engine.Checkpoints;
using Engine.Data;
using Engine.Experiments;
using Engine.Kernels.Cpu;
using Engine.Tests.Data;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Checkpoints;

/// <summary>
/// The stream overloads of checkpoint save and load, CSV read and prediction write give what the path versions give
/// (byte for byte, or the same dataset), leave the caller's stream open, name the stream (or the source given) and
/// the tensor/line/column in their errors; the path versions stay atomic.
/// </summary>
public sealed class StreamOverloadTests : IDisposable
{
    private static readonly CpuBackend<float> Cpu = new();
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelMetadata Metadata() => new(new Standardization(Standardizer.Identity(5),
        new Dictionary<string, Standardizer> { ["reg"] = new([1.5, -2], [2, 0.5]) }));

    [Fact]
    public void A_model_saved_to_a_stream_is_the_file_byte_for_byte_and_loads_back_the_same()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(32, seed: 2);
        var result = new Trainer(new TrainerOptions { Epochs = 1, BatchSize = 8 }).Fit(model, data, cancellationToken: TestContext.Current.CancellationToken);
        var path = _dir.File_("m.safetensors");
        model.Save(path, Metadata(), result.OptimizerState);

        using var memory = new MemoryStream();
        memory.Write("prefix"u8);                         // the stream is written from its position on
        model.Save(memory, Metadata(), result.OptimizerState);
        Assert.True(memory.CanWrite);                     // left open
        Assert.Equal(File.ReadAllBytes(path), memory.ToArray()[6..]);

        memory.Position = 6;
        using var loaded = MultiTaskModel.Load(memory, Cpu);
        Assert.Equal(model.Spec, loaded.Spec);
        Assert.Equal(Metadata().Standardization!.ToJson(), loaded.Metadata!.Standardization!.ToJson());
        var a = model.Predict(data.Inputs, data.Rows);
        var b = loaded.Predict(data.Inputs, data.Rows);
        for (int t = 0; t < 2; t++) Assert.Equal(a.Tasks[t].Values, b.Tasks[t].Values);

        using var fresh = MultiTaskModel.Create(Problems.Spec(seed: 99), Cpu);
        using (var file = File.OpenRead(path)) fresh.LoadWeights(file);
        Assert.Equal(Cpu.ToArray(model.Parameters.Values), Cpu.ToArray(fresh.Parameters.Values));

        memory.Position = 6;
        var checkpoint = Checkpoint.Load(memory);
        Assert.True(checkpoint.HasOptimizerState);
        using var again = new MemoryStream();
        checkpoint.Save(again);
        Assert.Equal(File.ReadAllBytes(path), again.ToArray());
    }

    [Fact]
    public void Stream_errors_name_the_stream_or_the_given_source_and_the_tensor()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        using var memory = new MemoryStream();
        model.Save(memory);
        var bytes = memory.ToArray();

        var truncated = Assert.Throws<SafeTensorsFormatException>(() => MultiTaskModel.Load(new MemoryStream(bytes[..^4]), Cpu));
        Assert.StartsWith("<MemoryStream>", truncated.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", truncated.Message, StringComparison.Ordinal);
        var named = Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(new MemoryStream(bytes[..^4]), "upload #3"));
        Assert.StartsWith("upload #3", named.Message, StringComparison.Ordinal);

        // A tensor-level problem: weights of another shape name the tensor.
        using var other = MultiTaskModel.Create(Problems.Spec(trunk: [8, 7]), Cpu);
        using var otherBytes = new MemoryStream();
        other.Save(otherBytes);
        otherBytes.Position = 0;
        var shape = Assert.Throws<SafeTensorsFormatException>(() => model.LoadWeights(otherBytes));
        Assert.StartsWith("<MemoryStream>", shape.Message, StringComparison.Ordinal);
        Assert.Contains("trunk.1.weight", shape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_holding_nan_writes_nothing_to_the_stream_and_leaves_the_file()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var path = _dir.File_("m.safetensors");
        model.Save(path);
        var good = File.ReadAllBytes(path);
        var values = model.ReadParameter("heads.reg.weight");
        values[1] = float.NaN;
        Cpu.Upload<float>(values, model.Parameters.ValuesOf(model.Parameters["heads.reg.weight"]));

        using var memory = new MemoryStream();
        Assert.Throws<TrainingDivergedException>(() => model.Save(memory));
        Assert.Equal(0, memory.Length);
        Assert.Throws<TrainingDivergedException>(() => model.Save(path));
        Assert.Equal(good, File.ReadAllBytes(path));                         // the path overload stays atomic
    }

    private const string Csv = "x,y,kind,target,label\n1.5,2,a,0.25,red\n-3,4.5,b,1,white\n\"7\",8,a,-2,red\n";
    private static TableSchema Schema() => new(["x", "y"], ["kind"], [TaskSpec.Regression("target"), TaskSpec.Classification("label")]);

    [Fact]
    public void A_csv_read_from_a_stream_is_the_dataset_read_from_the_file()
    {
        var path = _dir.Write("t.csv", Csv);
        var fromFile = CsvTable.Load(path, Schema());
        foreach (var stream in new Stream[] { new MemoryStream(Encoding.UTF8.GetBytes(Csv)), new ForwardOnly(Encoding.UTF8.GetBytes(Csv)) })
        {
            var fromStream = CsvTable.Load(stream, Schema());
            Assert.Equal(fromFile.Inputs, fromStream.Inputs);
            Assert.Equal(fromFile.InputNames, fromStream.InputNames);
            Assert.Equal(fromFile.SourceLines, fromStream.SourceLines);
            Assert.Equal(((RegressionTargets)fromFile.Task("target")).Values, ((RegressionTargets)fromStream.Task("target")).Values);
            Assert.Equal(((ClassTargets)fromFile.Task("label")).Classes, ((ClassTargets)fromStream.Task("label")).Classes);
            Assert.Equal(fromFile.Encoding.ToJson(), fromStream.Encoding.ToJson());
            Assert.True(stream.CanRead);                                    // left open
        }
        Assert.Equal([1.5f, 2, 1, 0], CsvTable.Load(new MemoryStream(Encoding.UTF8.GetBytes(Csv)), Schema()).InputRow(0).ToArray());
    }

    [Fact]
    public void Csv_stream_errors_name_the_stream_the_line_and_the_column()
    {
        var bad = Encoding.UTF8.GetBytes(Csv.Replace("-3,4.5", "-3,four"));
        var e = Assert.Throws<DataFileException>(() => CsvTable.Load(new MemoryStream(bad), Schema()));
        Assert.Equal("<MemoryStream>", e.FilePath);
        Assert.Equal(3, e.Line);
        Assert.Equal("y", e.Column);
        var named = Assert.Throws<DataFileException>(() => CsvTable.Load(new MemoryStream(bad), Schema(), source: "request body"));
        Assert.Equal("request body", named.FilePath);

        // Invalid UTF-8 (a Latin-1 "é" on line 4, column kind), located in the stream as in a file; the stream stays usable.
        var latin1 = Encoding.Latin1.GetBytes(Csv.Replace("\"7\",8,a", "\"7\",8,caf\u00e9"));
        var stream = new MemoryStream(latin1);
        var utf8 = Assert.Throws<DataFileException>(() => CsvTable.Load(stream, Schema()));
        Assert.Equal(4, utf8.Line);
        Assert.Equal("kind", utf8.Column);
        Assert.True(stream.CanRead);
        Assert.Throws<DataFileException>(() => CsvTable.Load(new MemoryStream(), Schema()));   // empty
    }

    [Fact]
    public void Predictions_written_to_a_stream_are_the_file_and_a_bad_write_leaves_the_old_file()
    {
        var raw = CsvTable.Load(_dir.Write("t.csv", Csv), Schema());
        var outputs = new List<TaskOutput>
        {
            new("target", TaskKind.Regression, ["target"], [0.5f, -1.25f, 3f], null, null, null),
            new("label", TaskKind.Classification, ["label"], null, ["red", "white", "red"], ["red", "white"], [0.75f, 0.25f, 0.1f, 0.9f, 1f, 0f]),
        };
        var path = _dir.File_("p.csv");
        PredictionCsv.Write(path, raw, outputs, probabilities: true);
        using var memory = new MemoryStream();
        PredictionCsv.Write(memory, raw, outputs, probabilities: true);
        Assert.Equal(File.ReadAllBytes(path), memory.ToArray());
        Assert.Equal(
            "x,y,kind,target,label,P(label=red),P(label=white)\n" +
            "1.5,2,a,0.5,red,0.75,0.25\n-3,4.5,b,-1.25,white,0.1,0.9\n7,8,a,3,red,1,0\n",
            Encoding.UTF8.GetString(memory.ToArray()));

        var short_ = new List<TaskOutput> { outputs[0] with { Values = [1f, 2f] } };
        var e = Assert.Throws<ArgumentException>(() => PredictionCsv.Write(path, raw, short_));
        Assert.Contains("task 'target' has 2 predictions", e.Message, StringComparison.Ordinal);
        Assert.Equal(memory.ToArray(), File.ReadAllBytes(path));            // the old file is intact
        using var untouched = new MemoryStream();
        Assert.Throws<ArgumentException>(() => PredictionCsv.Write(untouched, raw, short_));
        Assert.Equal(0, untouched.Length);
    }

    /// <summary>A readable stream that cannot seek (a network body, a pipe).</summary>
    private sealed class ForwardOnly(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
