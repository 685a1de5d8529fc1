using Engine.Data;
using Engine.Kernels.Cpu;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Bad input fails early with an exception that names the argument and the problem.</summary>
public class BadInputTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Predict_with_the_wrong_input_width_names_the_width()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var e = Assert.Throws<ArgumentException>(() => model.Predict(new float[12], 3));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("takes 5 features", e.Message);
    }

    [Fact]
    public void Nan_inputs_are_refused_naming_row_and_column()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var x = new float[10];
        x[7] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => model.Predict(x, 2));
        Assert.Contains("inputs[row 1, column 2] is NaN", e.Message);

        var data = Problems.Data(4, seed: 1);
        var bad = (float[])data.Inputs.Clone();
        bad[3] = float.PositiveInfinity;
        var t = Assert.Throws<ArgumentException>(() => new TrainingData(bad, 5, data.Tasks));
        Assert.Contains("inputs[row 0, column 3] is Infinity", t.Message);

        // A NaN target is "no label" (maths.md §19.1); an infinite one is refused.
        Assert.Equal(1, TaskData.Regression("reg", [1, float.NaN]).LabelledCount);
        var targets = new float[] { 1, float.NegativeInfinity };
        var r = Assert.Throws<ArgumentException>(() => TaskData.Regression("reg", targets));
        Assert.Contains("Task 'reg'", r.Message);
        Assert.Contains("row 1", r.Message);
    }

    [Fact]
    public void Labels_out_of_range_are_refused_naming_task_row_and_value()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TaskData.Classification("cls", [0, 2, 3, 1], 3));
        Assert.Contains("task 'cls'", e.Message);
        Assert.Contains("[row 2] = 3", e.Message);
        Assert.Contains("[0, 3)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskData.Classification("cls", [-2], 3));
        Assert.Equal(1, TaskData.Classification("cls", [-1, 2], 3).LabelledCount); // -1 is no label
    }

    [Fact]
    public void Data_that_does_not_fit_the_model_is_refused_naming_the_task()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        var data = Problems.Data(8, seed: 1);
        var trainer = new Trainer(new TrainerOptions { Epochs = 1 });

        var fewerClasses = new TrainingData(data.Inputs, 5, [data["reg"], TaskData.Classification("cls", data["cls"].Classes!.Select(c => c % 2).ToArray(), 2)]);
        var e1 = Assert.Throws<ArgumentException>(() => trainer.Fit(model, fewerClasses, cancellationToken: Ct));
        Assert.Contains("task 'cls' has 2 classes but the model's head has 3", e1.Message);

        var missing = new TrainingData(data.Inputs, 5, [data["reg"]]);
        var e2 = Assert.Throws<ArgumentException>(() => trainer.Fit(model, data, missing, cancellationToken: Ct));
        Assert.Contains("validation: the data has no targets for the model's task 'cls'", e2.Message);

        var wide = new TrainingData(new float[8 * 4], 4, data.Tasks);
        var e3 = Assert.Throws<ArgumentException>(() => trainer.Fit(model, wide, cancellationToken: Ct));
        Assert.Contains("4 features per row but the model takes 5", e3.Message);

        var kind = new TrainingData(data.Inputs, 5, [data["reg"], TaskData.Regression("cls", new float[24], 3)]);
        var e4 = Assert.Throws<ArgumentException>(() => trainer.Fit(model, kind, cancellationToken: Ct));
        Assert.Contains("'cls' is a Regression in the data but a Classification in the model", e4.Message);
    }

    [Fact]
    public void Invalid_specs_and_options_name_the_field()
    {
        Assert.Contains("'a.b'", Assert.Throws<ArgumentException>(() => new ModelSpec(3, [4], [TaskHead.Regression("a.b")]).Validate()).Message);
        Assert.Contains("at least 2 classes", Assert.Throws<ArgumentOutOfRangeException>(() => new ModelSpec(3, [4], [TaskHead.Classification("c", 1)]).Validate()).Message);
        Assert.Contains("Trunk[1]", Assert.Throws<ArgumentOutOfRangeException>(() => new ModelSpec(3, [4, 0], [TaskHead.Regression("a")]).Validate()).Message);
        Assert.Contains("appears twice", Assert.Throws<ArgumentException>(() => new ModelSpec(3, [4], [TaskHead.Regression("a"), TaskHead.Regression("a")]).Validate()).Message);

        using var model = MultiTaskModel.Create(Problems.Spec(), Cpu);
        Assert.Contains("'reg' is a regression", Assert.Throws<ArgumentException>(() => new TrainingStep(model, new StepOptions { Weighting = WeightingMethod.Accuracy }, 4)).Message);
        Assert.Contains("validation", Assert.Throws<ArgumentException>(() =>
            new Trainer(new TrainerOptions { EarlyStoppingPatience = 2 }).Fit(model, Problems.Data(4, 1), cancellationToken: Ct)).Message);
        Assert.Equal("Epochs", Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(new TrainerOptions { Epochs = 0 })).ParamName);

        using var device = DeviceDataset.Upload(model, Problems.Data(8, seed: 1));
        using var step = new TrainingStep(model, new StepOptions(), 4);
        Assert.Contains("at most 4 rows", Assert.Throws<ArgumentOutOfRangeException>(() => step.Run(device, 0, 8)).Message);
        Assert.Contains("[6, 9)", Assert.Throws<ArgumentOutOfRangeException>(() => step.Run(device, 6, 3)).Message);
    }
}
