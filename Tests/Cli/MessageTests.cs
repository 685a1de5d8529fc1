using Engine.Cli;
using Engine.Experiments;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// Error messages stay one readable line that names where the problem is: long fields are excerpted, duplicate column
/// names name the file and row, a column name holding a comma can be named on the command line, and library checks on
/// an option name its flag.
/// </summary>
public class MessageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_20_MB_field_is_excerpted_not_echoed()
    {
        var huge = new string('z', 20_000_000);
        var path = _dir.Write("big.csv", $"x,y\n1,2\n{huge},3\n4,5\n");
        var line = Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y", "--epochs", "1"), ExitCodes.BadInput,
            "big.csv", "row 3", "column 'x'", "20,000,000 characters", "not a number");
        Assert.InRange(line.Length, 1, 400);
    }

    [Fact]
    public void Every_error_line_is_capped()
    {
        var printed = Mtl.Run("train", "--data", _dir.File_("missing.csv"), "--regression", new string('r', 50_000));
        Assert.InRange(Assert.Single(printed.ErrorLines).Length, 1, App.MaxErrorLength + 20);
    }

    [Fact]
    public void Duplicate_header_names_name_the_file_row_and_column()
    {
        var path = _dir.Write("dup.csv", "a,a,y\n1,2,3\n4,5,6\n7,8,9\n");
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y", "--epochs", "1"), ExitCodes.BadInput,
            "dup.csv", "row 1", "column 'a'", "twice");
        var ok = _dir.Write("ok.csv", "a,b,y\n1,2,3\n4,5,6\n7,8,9\n");
        var twice = Mtl.Run("train", "--data", ok, "--regression", "y", "--inputs", "a,a", "--epochs", "1");
        Mtl.AssertFails(twice, ExitCodes.BadInput, "'a'", "named twice as a numeric input");
    }

    [Fact]
    public void A_column_name_with_a_comma_can_be_named_quoted_or_escaped()
    {
        var text = new System.Text.StringBuilder("\"price, net\",qty,\"total \"\"all\"\"\"\n");
        for (int i = 0; i < 40; i++) text.Append($"{i % 9},{i % 4},{2 * (i % 9) + i % 4}\n");
        var path = _dir.Write("comma.csv", text.ToString());
        foreach (var inputs in new[] { "\"price, net\",qty", "price\\, net,qty" })
        {
            var r = Mtl.Run("train", "--data", path, "--inputs", inputs, "--regression", "total \"all\"", "--epochs", "2");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("2 inputs", r.Output + r.Error);
        }
        var quotedTarget = Mtl.Run("train", "--data", path, "--regression", "\"total \"\"all\"\"\"", "--epochs", "2");
        Assert.True(quotedTarget.ExitCode == 0, quotedTarget.ToString());
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--inputs", "\"price, net", "--regression", "qty"), ExitCodes.Usage, "--inputs", "not closed");
        // Unquoted, the comma still separates: the message names the columns it looked for.
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--inputs", "price, net", "--regression", "qty", "--epochs", "1"), ExitCodes.BadInput, "price");
    }

    [Fact]
    public void Library_checks_on_an_option_name_its_flag()
    {
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--weighting", "accuracy"), ExitCodes.BadInput, "--weighting", "classification");
        // The schedule's own check (γ), as it surfaces through the experiment pipeline.
        var inner = new ArgumentOutOfRangeException("gamma", 0.0, "γ must be finite and > 0.");
        var (code, message) = App.Classify(new BadInputException("x", new ExperimentSetupException(inner.Message, inner)));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("--gamma: γ must be finite and > 0 (the value was 0).", message);
        var lr = new ArgumentOutOfRangeException("LearningRate", -1.0, "heads ('y'): LearningRate must be finite and ≥ 0.");
        Assert.StartsWith("--lr: ", App.Classify(lr).Message);
    }

    [Fact]
    public void A_combination_the_library_does_not_support_is_a_usage_error_naming_it()
    {
        // What TrainingStep throws for a method a data-parallel run cannot exchange, if a flag check ever let it through.
        var (code, message) = App.Classify(new NotSupportedException("'x' re-evaluates the batch after the step; not built."));
        Assert.Equal(ExitCodes.Usage, code);
        Assert.Equal("not supported: 'x' re-evaluates the batch after the step; not built.", message);
        Assert.Equal(ExitCodes.Usage, App.Classify(new AggregateException(new NotSupportedException("x"))).Code);
        // A platform the program cannot run on (safetensors on a big-endian host) stays an internal error.
        Assert.Equal(ExitCodes.InternalError, App.Classify(new PlatformNotSupportedException("big-endian")).Code);
    }

    [Fact]
    public void A_choice_flag_without_its_value_is_a_usage_error_not_an_internal_one()
    {
        // Found by ArgumentPropertyTests: the parser took "--weighting --optimizer" without error and binding crashed (exit 70).
        Mtl.AssertFails(Mtl.Run("train", "--weighting", "--optimizer"), ExitCodes.Usage, "--weighting needs one of", "static");
    }
}
