using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary><c>y = max(0, x)</c> elementwise.</summary>
    public static Tensor<T> Relu<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        tape.Activate(x, Activation.Relu);

    /// <summary><c>y = tanh(x)</c> elementwise.</summary>
    public static Tensor<T> Tanh<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        tape.Activate(x, Activation.Tanh);

    /// <summary><c>y = 1/(1 + e^(−x))</c> elementwise.</summary>
    public static Tensor<T> Sigmoid<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        tape.Activate(x, Activation.Sigmoid);

    /// <summary><c>y = f(x)</c> elementwise for any <see cref="Activation"/>.</summary>
    public static Tensor<T> Activate<T>(this Tape<T> tape, Tensor<T> x, Activation activation) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = tape.NewActivation(x.Rows, x.Cols, x.RequiresGrad, NameOf(activation));
        tape.Backend.ActivationForward(activation, x.Data, y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Activation, y);
            record.A = x;
            record.Activation = activation;
        }
        return y;
    }

    private static string NameOf(Activation activation) => activation switch
    {
        Activation.Relu => "relu",
        Activation.Tanh => "tanh",
        Activation.Sigmoid => "sigmoid",
        _ => "identity",
    };

    /// <summary>dX = dY ⊙ f′, with f′ written in terms of the saved output: ReLU 1[y&gt;0], tanh 1−y², sigmoid y(1−y).</summary>
    internal static void ActivationBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var dX = tape.GradOf(record.A!, out bool accumulate);
        tape.Backend.ActivationBackwardFromOutput(record.Activation, y.Data, y.Grad, dX, accumulate);
    }
}
