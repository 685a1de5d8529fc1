using Engine.Checkpoints;
using Engine.Data;
using Engine.Tests.Data;

namespace Engine.Tests.Checkpoints;

/// <summary>Checkpoints: tensor names, metadata (config, standardization, label maps, schema) and optional
/// optimizer state survive a save/load exactly.</summary>
public class CheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Tensor_names_follow_the_documented_convention()
    {
        Assert.Equal("trunk.0.weight", CheckpointNames.TrunkWeight(0));
        Assert.Equal("trunk.2.bias", CheckpointNames.TrunkBias(2));
        Assert.Equal("heads.color.weight", CheckpointNames.HeadWeight("color"));
        Assert.Equal("heads.quality.bias", CheckpointNames.HeadBias("quality"));
        Assert.Equal("heads.quality.1.weight", CheckpointNames.HeadWeight("quality", 1));
        Assert.Equal("optimizer.exp_avg.trunk.0.weight", CheckpointNames.Optimizer("exp_avg", CheckpointNames.TrunkWeight(0)));
        Assert.True(CheckpointNames.IsOptimizerState("optimizer.step"));
        Assert.False(CheckpointNames.IsOptimizerState("trunk.0.weight"));
        Assert.Throws<ArgumentException>(() => CheckpointNames.HeadWeight("a.b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => CheckpointNames.TrunkWeight(-1));
    }

    private static Checkpoint Build(out Dataset data)
    {
        data = CsvTable.Load(BundledFiles.WineQuality, BundledDatasets.WineQualityRegression);
        var split = DataSplit.Shuffled(data.RowCount, 0.8, 0.1, seed: 2);
        var checkpoint = new Checkpoint
        {
            ConfigJson = "{\"trunk\":[11,32,16],\"activation\":\"relu\"}",
            Standardization = Standardization.Fit(data, split.Train),
            Encoding = data.Encoding,
            Schema = data.Schema,
        };
        var w = Enumerable.Range(0, 32 * 11).Select(i => MathF.Sin(i)).ToArray();
        checkpoint.Tensors.Add(CheckpointNames.TrunkWeight(0), SafeTensor.FromFloat32(w, 32, 11));
        checkpoint.Tensors.Add(CheckpointNames.TrunkBias(0), SafeTensor.FromFloat32(new float[32], 32));
        checkpoint.Tensors.Add(CheckpointNames.HeadWeight("color"), SafeTensor.FromFloat32(new float[2 * 32], 2, 32));
        checkpoint.Tensors.Add(CheckpointNames.Optimizer("exp_avg", CheckpointNames.TrunkWeight(0)), SafeTensor.FromFloat32(w, 32, 11));
        checkpoint.Tensors.Add(CheckpointNames.OptimizerStep, SafeTensor.ScalarInt64(1234));
        return checkpoint;
    }

    [Fact]
    public void Save_and_load_round_trips_tensors_and_metadata()
    {
        var original = Build(out var data);
        var path = _dir.File_("wine.safetensors");
        original.Save(path);
        var loaded = Checkpoint.Load(path);

        Assert.Equal(original.Tensors.Names, loaded.Tensors.Names);
        Assert.Equal(original.Tensors["trunk.0.weight"].ToFloat32(), loaded.Tensors.Require("trunk.0.weight", 32, 11).ToFloat32());
        Assert.Equal(original.ConfigJson, loaded.ConfigJson);
        Assert.Equal("pt", loaded.Tensors.Metadata[Checkpoint.FormatKey]);
        Assert.Equal(Checkpoint.FormatVersion, loaded.Tensors.Metadata[Checkpoint.VersionKey]);

        var s = loaded.Standardization!;
        Assert.Equal(original.Standardization!.Inputs.Mean, s.Inputs.Mean);
        Assert.Equal(original.Standardization.Inputs.Std, s.Inputs.Std);
        Assert.Equal(original.Standardization.Target("quality").Mean, s.Target("quality").Mean);

        Assert.Equal(["red", "white"], loaded.Encoding!.Labels["color"].Labels);
        Assert.Equal(data.Schema.NumericInputs, loaded.Schema!.NumericInputs);
        Assert.Equal(data.Schema.Tasks.Select(t => t.Name), loaded.Schema.Tasks.Select(t => t.Name));

        // The stored label map encodes new data the same way.
        var fresh = _dir.Write("new.csv", File.ReadLines(BundledFiles.WineQuality).First() + "\n" +
                                          File.ReadLines(BundledFiles.WineQuality).Last() + "\n");
        var encoded = CsvTable.Load(fresh, loaded.Schema, encoding: loaded.Encoding);
        Assert.Equal(((ClassTargets)data.Task("color")).Classes[^1], ((ClassTargets)encoded.Task("color")).Classes[0]);
    }

    [Fact]
    public void Optimizer_state_is_optional()
    {
        var checkpoint = Build(out _);
        Assert.True(checkpoint.HasOptimizerState);
        Assert.Equal(["trunk.0.weight", "trunk.0.bias", "heads.color.weight"], checkpoint.ParameterNames);
        checkpoint.RemoveOptimizerState();
        var loaded = Checkpoint.Parse(checkpoint.ToBytes());
        Assert.False(loaded.HasOptimizerState);
        Assert.Equal(3, loaded.Tensors.Count);
    }

    [Fact]
    public void Malformed_metadata_is_rejected_naming_the_file_and_key()
    {
        var file = new SafeTensorsFile();
        file.Add("trunk.0.bias", SafeTensor.FromFloat32([1f]));
        file.Metadata[Checkpoint.StandardizerKey] = "{\"inputs\":{\"mean\":[0],\"std\":[0]}}"; // σ = 0 is invalid
        var path = _dir.File_("bad.safetensors");
        file.Save(path);
        var e = Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(path));
        Assert.StartsWith(path + ": metadata 'engine.standardizer' is malformed", e.Message);

        file.Metadata.Remove(Checkpoint.StandardizerKey);
        file.Metadata[Checkpoint.LabelsKey] = "{not json";
        file.Save(path);
        Assert.Contains("metadata 'engine.labels' is malformed", Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(path)).Message);

        file.Metadata.Remove(Checkpoint.LabelsKey);
        file.Metadata[Checkpoint.VersionKey] = "99";
        file.Save(path);
        Assert.Contains("format version '99' is not supported", Assert.Throws<SafeTensorsFormatException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void Invalid_config_json_is_refused_at_save()
    {
        var checkpoint = new Checkpoint { ConfigJson = "{\"layers\": [1, 2" };
        var e = Assert.Throws<ArgumentException>(() => checkpoint.Save(_dir.File_("x.safetensors")));
        Assert.Contains("ConfigJson is not valid JSON", e.Message);
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }
}
