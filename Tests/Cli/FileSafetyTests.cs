using Engine.Cli;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// No command writes over a file it reads, nor two outputs onto one path (paths compared canonically, links
/// resolved); unusable <c>--save</c> targets are refused before training; a diverged run (exit 4) saves nothing and
/// keeps the old file. Every refusal leaves every file byte for byte as it was.
/// </summary>
public class FileSafetyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The synthetic training flags with <paramref name="epochs"/> epochs.</summary>
    private static string[] Quick(string csv, int epochs)
    {
        var flags = Mtl.SyntheticTrainFlags(csv);
        flags[Array.IndexOf(flags, "--epochs") + 1] = epochs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return flags;
    }

    private string Csv() => _dir.Write("d.csv", Mtl.SyntheticCsv(40));

    /// <summary>Flags that would train for a long time: a refusal must come before training.</summary>
    private static string[] Train(string csv) =>
        ["train", "--data", csv, "--regression", "y", "--classification", "label", "--categorical", "shade", "--epochs", "1000000"];

    /// <summary>Every file in the directory, with its bytes.</summary>
    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(_dir.Path).ToDictionary(f => f, File.ReadAllBytes);

    private void AssertUnchanged(Dictionary<string, byte[]> before)
    {
        var after = Snapshot();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (file, bytes) in before) Assert.Equal(bytes, after[file]);
    }

    [Fact]
    public void Train_refuses_to_save_over_its_data_by_any_spelling()
    {
        var csv = Csv();
        Directory.CreateDirectory(_dir.File_("sub"));
        File.CreateSymbolicLink(_dir.File_("link.csv"), csv);
        var before = Snapshot();
        foreach (var spelling in new[] { csv, Path.Combine(_dir.Path, "sub", "..", "d.csv"), _dir.File_("link.csv") })
        {
            var line = Mtl.AssertFails(Mtl.Run([.. Train(csv), "--save", spelling]), ExitCodes.Usage, "--save", spelling, "--data", "destroy the input");
            AssertUnchanged(before);
            Assert.DoesNotContain("Trained", line);
        }
        // The data given through the link, the save onto the real file.
        Mtl.AssertFails(Mtl.Run([.. Train(_dir.File_("link.csv")), "--report", csv]), ExitCodes.Usage, "--report", "--data");
        AssertUnchanged(before);
    }

    [Fact]
    public void Train_refuses_save_and_report_on_one_path_and_init_weights_as_output()
    {
        var csv = Csv();
        var model = _dir.Write("m.safetensors", "old model bytes");
        var before = Snapshot();
        Mtl.AssertFails(Mtl.Run([.. Train(csv), "--save", model, "--report", model]), ExitCodes.Usage, "--save", "--report", "same file");
        Mtl.AssertFails(Mtl.Run([.. Train(csv), "--init-weights", model, "--save", model]), ExitCodes.Usage, "--init-weights", "--save");
        AssertUnchanged(before);
    }

    [Fact]
    public void Predict_and_evaluate_refuse_to_write_over_the_model_or_the_data()
    {
        var csv = Csv();
        var model = _dir.File_("m.safetensors");
        var trained = Mtl.Run([.. Quick(csv, 2), "--save", model]);
        Assert.True(trained.ExitCode == 0, trained.ToString());
        var before = Snapshot();
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", csv, "--output", model), ExitCodes.Usage, "--output", "--model");
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", csv, "--output", csv), ExitCodes.Usage, "--output", "--data");
        Mtl.AssertFails(Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", model), ExitCodes.Usage, "--report", "--model");
        Mtl.AssertFails(Mtl.Run("evaluate", "--model", model, "--data", csv, "--report", csv), ExitCodes.Usage, "--report", "--data");
        AssertUnchanged(before);
        // A distinct output still works.
        var output = _dir.File_("p.csv");
        Assert.Equal(0, Mtl.Run("predict", "--model", model, "--data", csv, "--output", output).ExitCode);
        Assert.StartsWith("x1,x2,shade,y,label", File.ReadAllText(output));
    }

    [Fact]
    public void Unusable_save_targets_are_refused_before_training_naming_the_given_path()
    {
        var csv = Csv();
        var file = _dir.Write("plain.txt", "x");
        Directory.CreateDirectory(_dir.File_("folder"));
        var before = Snapshot();
        var cases = new (string Path, string Fragment)[]
        {
            (Path.Combine(_dir.Path, "missing", "m.safetensors"), "does not exist"),
            (Path.Combine(file, "m.safetensors"), "is a file, not a directory"),
            (_dir.File_("folder"), "is a directory"),
            ("", "empty"),
        };
        foreach (var (path, fragment) in cases)
        {
            var line = Mtl.AssertFails(Mtl.Run([.. Train(csv), "--save", path]), ExitCodes.Usage, "--save", path, fragment);
            Assert.DoesNotContain(".tmp", line);
        }
        AssertUnchanged(before);
        Assert.Empty(Directory.GetFileSystemEntries(_dir.File_("folder")));
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("sgd")]
    [InlineData("adam", "--clip", "1")]
    [InlineData("adamw", "--clip", "1", "--warmup", "5")]
    public void A_diverging_run_exits_4_and_keeps_the_old_model(string optimizer, params string[] extra)
    {
        var csv = Csv();
        var model = _dir.File_("m.safetensors");
        var good = Mtl.Run([.. Quick(csv, 2), "--save", model]);
        Assert.True(good.ExitCode == 0, good.ToString());
        var before = Snapshot();
        var report = _dir.File_("r.json");
        var r = Mtl.Run([.. Quick(csv, 5), "--optimizer", optimizer, "--lr", "1e6", .. extra, "--save", model, "--report", report]);
        Mtl.AssertFails(r, ExitCodes.TrainingFailed, "diverged", "Nothing was saved", "--lr");
        AssertUnchanged(before);
    }
}
