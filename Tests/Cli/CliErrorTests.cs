using Engine.Cli;
using Engine.Tests.Data;

namespace Engine.Tests.Cli;

/// <summary>
/// Bad input never crashes <c>mtl</c>: each case has its exit code (docs/cli.md) and one line on stderr that says
/// where the problem is (file, row, column) and what it is.
/// </summary>
public class CliErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Header = "x1,x2,shade,y,label\n";

    private Mtl.Result TrainOn(string csvText, string name = "data.csv") =>
        Mtl.Run("train", "--data", _dir.Write(name, csvText), "--regression", "y", "--classification", "label", "--categorical", "shade", "--epochs", "2");

    // ---- usage: exit 2 ------------------------------------------------------------------------------------

    [Theory]
    [InlineData(new[] { "train", "--no-such-flag" }, "--no-such-flag")]
    [InlineData(new[] { "train", "--lr", "abc" }, "abc")]
    [InlineData(new[] { "train", "--lr", "-0.1" }, "--lr")]
    [InlineData(new[] { "train", "--epochs", "0" }, "--epochs")]
    [InlineData(new[] { "train", "--hidden", "64,x" }, "--hidden")]
    [InlineData(new[] { "train", "--hidden", "0" }, "--hidden")]
    [InlineData(new[] { "train", "--combine", "average" }, "average")]
    [InlineData(new[] { "train", "--optimizer", "lamb" }, "lamb")]
    [InlineData(new[] { "train", "--test", "1.5" }, "--test")]
    [InlineData(new[] { "train", "--validation", "0.5", "--test", "0.5" }, "no rows to train")]
    [InlineData(new[] { "train", "--patience", "3" }, "--validation")]
    [InlineData(new[] { "train", "--task-weight", "heating_load" }, "NAME=NUMBER")]
    [InlineData(new[] { "train", "--momentum", "0.9" }, "--optimizer sgd")]
    [InlineData(new[] { "train", "--delimiter", "ab" }, "--delimiter")]
    [InlineData(new[] { "frobnicate" }, "frobnicate")]
    [InlineData(new string[0], "mtl")]
    [InlineData(new[] { "predict", "--data", "x.csv" }, "--model")]
    public void Usage_errors_exit_with_2_and_one_line(string[] args, string fragment)
    {
        Mtl.AssertFails(Mtl.Run(args), ExitCodes.Usage, fragment);
    }

    // ---- bad data: exit 1, naming file, row and column ------------------------------------------------------

    [Fact]
    public void Missing_data_file()
    {
        var path = _dir.File_("absent.csv");
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y"), ExitCodes.BadInput, path, "no such file");
    }

    [Fact]
    public void Empty_file()
    {
        Mtl.AssertFails(TrainOn("", "empty.csv"), ExitCodes.BadInput, "empty.csv", "empty");
    }

    [Fact]
    public void Missing_value_names_file_row_and_column()
    {
        var csv = Header + "1,2,light,0,pos\n0.5,,dark,1,neg\n" + Mtl.SyntheticCsv(20)[Header.Length..];
        Mtl.AssertFails(TrainOn(csv, "holes.csv"), ExitCodes.BadInput, "holes.csv", "row 3", "column 'x2'", "missing value");
    }

    [Fact]
    public void Non_numeric_text_names_file_row_and_column()
    {
        var csv = Mtl.SyntheticCsv(20) + "1.5,two,light,0,pos\n";
        Mtl.AssertFails(TrainOn(csv, "text.csv"), ExitCodes.BadInput, "text.csv", "row 22", "column 'x2'", "'two' is not a number");
    }

    [Fact]
    public void Malformed_csv_quoting_names_the_file_and_row()
    {
        var csv = Header + "1,2,light,0,pos\n1,\"2,light,0,pos\n";
        Mtl.AssertFails(TrainOn(csv, "quotes.csv"), ExitCodes.BadInput, "quotes.csv", "row");
    }

    [Fact]
    public void Unknown_target_column_names_the_file_and_column()
    {
        var path = _dir.Write("data.csv", Mtl.SyntheticCsv(20));
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "height"), ExitCodes.BadInput, "data.csv", "column 'height'", "no such column");
    }

    [Fact]
    public void Unknown_input_column_names_the_file_and_column()
    {
        var path = _dir.Write("data.csv", Mtl.SyntheticCsv(20));
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y", "--inputs", "x1,x9"), ExitCodes.BadInput, "column 'x9'");
    }

    [Fact]
    public void Task_weight_for_a_task_the_data_lacks()
    {
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--task-weight", "heating=2"), ExitCodes.BadInput, "'heating'", "heating_load");
    }

    [Fact]
    public void Projection_reference_that_is_not_a_task()
    {
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--combine", "projection", "--projection-reference", "heat"), ExitCodes.BadInput, "'heat'");
    }

    [Fact]
    public void A_column_given_two_roles()
    {
        var path = _dir.Write("data.csv", Mtl.SyntheticCsv(20));
        Mtl.AssertFails(Mtl.Run("train", "--data", path, "--regression", "y", "--inputs", "x1,y"), ExitCodes.BadInput, "'y'");
    }

    [Fact]
    public void File_without_a_named_task()
    {
        var path = _dir.Write("data.csv", Mtl.SyntheticCsv(20));
        Mtl.AssertFails(Mtl.Run("train", "--data", path), ExitCodes.BadInput, "--regression");
    }

    // ---- saved models ------------------------------------------------------------------------------------

    [Fact]
    public void Unseen_class_label_at_evaluate_names_file_row_and_column()
    {
        var (model, _) = TrainSynthetic();
        var csv = _dir.Write("new.csv", Header + "1,2,light,0,pos\n0.5,0.5,dark,1,maybe\n");
        Mtl.AssertFails(Mtl.Run("evaluate", "--model", model, "--data", csv), ExitCodes.BadInput,
            "new.csv", "row 3", "column 'label'", "'maybe'", "never seen");
    }

    [Fact]
    public void Unseen_category_at_predict_names_file_row_and_column()
    {
        var (model, _) = TrainSynthetic();
        var csv = _dir.Write("new.csv", "x1,x2,shade\n1,2,light\n0.5,0.5,grey\n");
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", csv), ExitCodes.BadInput,
            "new.csv", "row 3", "column 'shade'", "'grey'");
    }

    [Fact]
    public void Missing_input_column_at_predict()
    {
        var (model, _) = TrainSynthetic();
        var csv = _dir.Write("new.csv", "x1,shade\n1,light\n");
        Mtl.AssertFails(Mtl.Run("predict", "--model", model, "--data", csv), ExitCodes.BadInput, "new.csv", "column 'x2'");
    }

    [Fact]
    public void Truncated_checkpoint_is_bad_input()
    {
        var (model, csv) = TrainSynthetic();
        var bytes = File.ReadAllBytes(model);
        var truncated = _dir.File_("truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Mtl.AssertFails(Mtl.Run("predict", "--model", truncated, "--data", csv), ExitCodes.BadInput, "truncated.safetensors");
    }

    [Fact]
    public void Missing_model_file()
    {
        var csv = _dir.Write("data.csv", Mtl.SyntheticCsv(20));
        Mtl.AssertFails(Mtl.Run("evaluate", "--model", _dir.File_("none.safetensors"), "--data", csv), ExitCodes.BadInput, "none.safetensors");
    }

    [Fact]
    public void Init_weights_that_do_not_fit_the_model()
    {
        var (model, _) = TrainSynthetic(); // 4 inputs (x1, x2, shade=dark, shade=light); energy has 8
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--init-weights", model), ExitCodes.BadInput, model, "trunk.0.weight");
    }

    // ---- other exits ---------------------------------------------------------------------------------------

    [Fact]
    public void A_gpu_that_is_not_there_exits_with_3()
    {
        using (var probe = Engine.Kernels.Ilgpu.IlgpuBackend.TryCreateCuda())
            if (probe is not null) Assert.Skip("this machine has a CUDA device");
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--device", "cuda"), ExitCodes.DeviceUnavailable, "cuda");
    }

    [Fact]
    public void A_diverging_run_exits_with_4()
    {
        // SGD with lr 1e30 overflows float32 within a few steps: the losses become NaN.
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "3", "--optimizer", "sgd", "--lr", "1e30"), ExitCodes.TrainingFailed, "diverged", "--lr");
    }

    [Fact]
    public void Cancelling_exits_with_130_and_one_line()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Mtl.AssertFails(Mtl.Run(cancelled.Token, "train", "--epochs", "5"), ExitCodes.Cancelled, "cancelled");
    }

    /// <summary>Trains the synthetic table briefly and saves it; returns the model and the CSV.</summary>
    private (string Model, string Csv) TrainSynthetic()
    {
        var csv = _dir.Write("train.csv", Mtl.SyntheticCsv());
        var model = _dir.File_("model.safetensors");
        var result = Mtl.Run([.. Mtl.SyntheticTrainFlags(csv), "--save", model]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return (model, csv);
    }
}
