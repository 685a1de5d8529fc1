using System.CommandLine;
using Engine.Autodiff;
using Engine.Cli;
using Engine.Cli.Commands;
using Engine.Kernels;
using Engine.Training;

namespace Engine.Tests.Cli;

/// <summary>
/// <c>mtl train</c> flags bind into <see cref="Engine.Experiments.ExperimentSettings"/> as documented (docs/cli.md), and the
/// optimizer and model flags added for the trainer's options are checked: bad values exit with 2 naming the flag.
/// </summary>
public class TrainFlagsTests
{
    private static Engine.Experiments.ExperimentSettings Bind(params string[] args)
    {
        var flags = new TrainFlags();
        var command = new Command("train");
        flags.AddTo(command);
        var parsed = command.Parse(args);
        Assert.Empty(parsed.Errors);
        return flags.Bind(parsed);
    }

    [Fact]
    public void Defaults_keep_bias_correction_no_dampening_and_the_model_defaults()
    {
        var s = Bind();
        Assert.True(s.Step.BiasCorrection);
        Assert.Equal(0, s.Step.Dampening);
        Assert.Empty(s.HeadWeightDecays);
        Assert.Null(s.OutputActivation);
        Assert.Equal(Initializer.PyTorchDefault, s.Initializer);
    }

    [Fact]
    public void Optimizer_flags_reach_the_step_options()
    {
        Assert.False(Bind("--no-bias-correction").Step.BiasCorrection);
        Assert.False(Bind("--optimizer", "adamw", "--no-bias-correction").Step.BiasCorrection);
        var sgd = Bind("--optimizer", "sgd", "--momentum", "0.9", "--dampening", "0.25").Step;
        Assert.Equal((OptimizerKind.Sgd, 0.9, 0.25), (sgd.Optimizer, sgd.Momentum, sgd.Dampening));
    }

    [Fact]
    public void Rmsprop_flags_reach_the_step_options_and_eps_defaults_to_the_optimizers_own()
    {
        var rms = Bind("--optimizer", "rmsprop", "--alpha", "0.9", "--centered", "--momentum", "0.5", "--eps", "1e-6").Step;
        Assert.Equal((OptimizerKind.RmsProp, 0.9, true, 0.5, (double?)1e-6), (rms.Optimizer, rms.Alpha, rms.Centered, rms.Momentum, rms.Epsilon));
        var defaults = Bind("--optimizer", "rmsprop").Step;
        Assert.Equal((0.99, false, 0.0, (double?)null), (defaults.Alpha, defaults.Centered, defaults.Momentum, defaults.Epsilon));
        Assert.Null(Bind().Step.Epsilon); // null: the optimizer's PyTorch default (1e-8 for adam and rmsprop)
    }

    [Fact]
    public void Adagrad_flags_reach_the_step_options()
    {
        var ada = Bind("--optimizer", "adagrad", "--lr-decay", "0.1", "--initial-accumulator", "0.5", "--eps", "1e-6", "--weight-decay", "0.01").Step;
        Assert.Equal((OptimizerKind.Adagrad, 0.1, 0.5, (double?)1e-6, 0.01), (ada.Optimizer, ada.LearningRateDecay, ada.InitialAccumulatorValue, ada.Epsilon, ada.WeightDecay));
        var defaults = Bind("--optimizer", "adagrad").Step;
        Assert.Equal((0.0, 0.0, (double?)null), (defaults.LearningRateDecay, defaults.InitialAccumulatorValue, defaults.Epsilon));
    }

    [Fact]
    public void Model_flags_reach_the_settings()
    {
        var s = Bind("--head-decay", "a=0.01", "--head-decay", "b=0", "--output-activation", "tanh", "--init", "kaiming-uniform");
        Assert.Equal(new Dictionary<string, double> { ["a"] = 0.01, ["b"] = 0 }, s.HeadWeightDecays);
        Assert.Equal(Activation.Tanh, s.OutputActivation);
        Assert.Equal(Initializer.KaimingUniform, s.Initializer);
        Assert.Equal(Initializer.XavierNormal, Bind("--init", "xavier-normal").Initializer);
        Assert.Equal(Activation.Identity, Bind("--output-activation", "identity").OutputActivation);
    }

    [Theory]
    [InlineData(new[] { "train", "--dampening", "0.5" }, "--optimizer sgd")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--momentum", "0.9", "--dampening", "1.5" }, "--dampening")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--momentum", "0.9", "--dampening", "-0.1" }, "--dampening")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--dampening", "0.5" }, "--momentum")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--dampening", "0.5" }, "--nesterov")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--no-bias-correction" }, "--no-bias-correction")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--alpha", "1.5" }, "--alpha")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--alpha", "-0.1" }, "--alpha")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--eps", "-1" }, "--eps")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--momentum", "1.5" }, "--momentum")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--momentum", "0.9", "--nesterov" }, "--nesterov")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--amsgrad" }, "--amsgrad")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--no-bias-correction" }, "--no-bias-correction")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--momentum", "0.9", "--dampening", "0.1" }, "--dampening")]
    [InlineData(new[] { "train", "--centered" }, "--optimizer rmsprop")]
    [InlineData(new[] { "train", "--optimizer", "adagrad", "--lr-decay", "-0.1" }, "--lr-decay")]
    [InlineData(new[] { "train", "--optimizer", "adagrad", "--initial-accumulator", "-1" }, "--initial-accumulator")]
    [InlineData(new[] { "train", "--optimizer", "adagrad", "--momentum", "0.9" }, "--momentum")]
    [InlineData(new[] { "train", "--optimizer", "adagrad", "--centered" }, "--centered")]
    [InlineData(new[] { "train", "--lr-decay", "0.1" }, "--optimizer adagrad")]
    [InlineData(new[] { "train", "--optimizer", "rmsprop", "--initial-accumulator", "0.1" }, "--optimizer adagrad")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--alpha", "0.9" }, "--alpha")]
    [InlineData(new[] { "train", "--optimizer", "sgd", "--eps", "1e-6" }, "--eps")]
    [InlineData(new[] { "train", "--head-decay", "a=-1" }, "--head-decay")]
    [InlineData(new[] { "train", "--head-decay", "a" }, "NAME=NUMBER")]
    [InlineData(new[] { "train", "--init", "zeros" }, "zeros")]
    [InlineData(new[] { "train", "--output-activation", "gelu" }, "gelu")]
    public void Bad_values_exit_with_2_naming_the_flag(string[] args, string fragment)
    {
        Mtl.AssertFails(Mtl.Run(args), ExitCodes.Usage, fragment);
    }

    [Fact]
    public void Head_decay_for_an_unknown_task_is_refused_naming_the_flag_and_the_tasks()
    {
        Mtl.AssertFails(Mtl.Run("train", "--epochs", "1", "--head-decay", "heating=0.1"), ExitCodes.BadInput, "--head-decay", "'heating'", "heating_load");
    }
}
