using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The network the multi-task tests use: a trunk of two hidden layers (5 → 8 ReLU → 6 tanh), a regression
/// head (6 → 2, MSE) and a classification head (6 → 3 classes, softmax cross-entropy), combined as
/// <c>w₀·L_reg + w₁·L_cls</c> with the weights a device vector. Batch 7. Every input is fixed by seeds, and
/// the parameters can be set from host values so that float32 and float64 copies hold identical numbers.
/// </summary>
public sealed class MultiTaskNet<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int Batch = 7, Features = 5, Targets = 2, Classes = 3;
    public static readonly int[] LabelValues = [0, 2, 1, 2, 0, 1, 1];

    public readonly Backend<T> Backend;
    public readonly FlatParameters<T> Parameters;
    public readonly Sequential<T> Trunk;
    public readonly Dense<T> Regression, Classification;
    public readonly Leaves<T> Leaves;
    public readonly Tensor<T> X, Target, Weights;
    public readonly Labels Labels;

    public MultiTaskNet(Backend<T> backend, double[]? parameterValues = null)
    {
        Backend = backend;
        Parameters = new FlatParameters<T>(backend);
        Trunk = new Sequential<T>(
            new Dense<T>(Parameters, "trunk.0", Features, 8, Activation.Relu),
            new Dense<T>(Parameters, "trunk.1", 8, 6, Activation.Tanh));
        Regression = new Dense<T>(Parameters, "regression", 6, Targets);
        Classification = new Dense<T>(Parameters, "classification", 6, Classes);
        Parameters.Allocate();
        if (parameterValues is null)
        {
            Trunk.Initialize(Initializer.KaimingUniform, seed: 42);
            Regression.Initialize(Initializer.XavierUniform, seed: 43);
            Classification.Initialize(Initializer.PyTorchDefault, seed: 44);
            // Non-zero biases everywhere, so bias gradients are exercised on non-trivial values.
            foreach (var layer in Trunk.Layers.Cast<Dense<T>>().Append(Regression).Append(Classification))
                Init.Upload(backend, Infrastructure.Tolerance.Random(layer.Outputs, 100 + layer.Outputs, -0.3, 0.3), layer.Bias!.Data);
        }
        else Init.Upload(backend, parameterValues, Parameters.Values);
        backend.Fill(Parameters.Gradients, T.Zero);

        Leaves = new Leaves<T>(backend);
        X = Leaves.Make("x", Batch, Features, Infrastructure.Tolerance.Random(Batch * Features, 7, -2, 2));
        Target = Leaves.Make("target", Batch, Targets, Infrastructure.Tolerance.Random(Batch * Targets, 8));
        Weights = Leaves.Make("task_weights", 1, 2, [0.6, 1.4]);
        Labels = Leaves.Labels(LabelValues, Classes);
    }

    /// <summary>Every parameter tensor, trunk first.</summary>
    public IEnumerable<Tensor<T>> AllParameters =>
        Trunk.Parameters.Parameters.Concat(Regression.Parameters).Concat(Classification.Parameters);

    /// <summary>The two task losses and their weighted sum, recorded on <paramref name="tape"/>.</summary>
    public (Tensor<T> Regression, Tensor<T> Classification, Tensor<T> Total) Forward(Tape<T> tape)
    {
        var h = Trunk.Forward(tape, X);
        var regression = tape.Mse(Regression.Forward(tape, h), Target);
        var classification = tape.SoftmaxCrossEntropy(Classification.Forward(tape, h), Labels);
        return (regression, classification, tape.WeightedSum(Weights, regression, classification));
    }

    public double[] ParameterValues() => ToDouble(Backend.ToArray(Parameters.Values));
    public double[] ParameterGradients() => ToDouble(Backend.ToArray(Parameters.Gradients));

    public static double[] ToDouble(T[] values) => Array.ConvertAll(values, double.CreateChecked);

    public void Dispose()
    {
        Leaves.Dispose();
        Parameters.Dispose();
    }
}
