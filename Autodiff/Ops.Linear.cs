using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// The differentiable operations, as extension methods on the tape that records them:
/// <c>var h = tape.Linear(x, w, b, Activation.Relu);</c>. Each forward is a kernel call or two; each
/// backward (the <c>…Backward</c> methods, called by <see cref="Tape{T}.Backward(Tensor{T}, View{T})"/>)
/// is the op's vector–Jacobian product, derived in docs/maths.md.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// A dense layer, PyTorch's <c>nn.Linear</c> followed by an activation, in one GEMM:
    /// <c>Y = f(X·Wᵀ + b)</c> with X [batch × in], W [out × in], b [1 × out] (or null), Y [batch × out].
    /// The bias and activation run in the GEMM's epilogue.
    /// </summary>
    public static Tensor<T> Linear<T>(this Tape<T> tape, Tensor<T> x, Tensor<T> weight, Tensor<T>? bias = null,
        Activation activation = Activation.Identity) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        int batch = x.Rows, inputs = x.Cols, outputs = weight.Rows;
        if (weight.Cols != inputs)
            throw new ArgumentException($"Linear: {weight} expects {weight.Cols} input features but {x} has {inputs}.", nameof(weight));
        if (bias is not null && bias.Length != outputs)
            throw new ArgumentException($"Linear: {bias} must hold {outputs} elements (one per output).", nameof(bias));

        bool requiresGrad = x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false);
        var y = tape.NewActivation(batch, outputs, requiresGrad, "linear");
        tape.Backend.Gemm(false, true, batch, outputs, inputs, T.One, x.Data, weight.Data, T.Zero, y.Data,
            bias?.Data ?? default, activation);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Linear, y);
            record.A = x;
            record.B = weight;
            record.C = bias;
            record.Activation = activation;
        }
        return y;
    }

    /// <summary>
    /// With Z = X·Wᵀ + b and Y = f(Z): dZ = dY ⊙ f′ (f′ read from the saved output Y), then
    /// dX = dZ·W, dW = dZᵀ·X, db = Σ_rows dZ.
    /// </summary>
    internal static void LinearBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var backend = tape.Backend;
        var y = record.Output;
        var x = record.A!;
        var w = record.B!;
        var b = record.C;
        int batch = x.Rows, inputs = x.Cols, outputs = w.Rows;

        var dZ = y.Grad;
        if (record.Activation != Activation.Identity)
        {
            dZ = tape.ScratchOf(record, y.Length);
            backend.ActivationBackwardFromOutput(record.Activation, y.Data, y.Grad, dZ, accumulate: false);
        }
        if (Tape<T>.Wants(x))
        {
            var dX = tape.GradOf(x, out bool accumulate);      // [batch × in] = [batch × out]·[out × in]
            backend.Gemm(false, false, batch, inputs, outputs, T.One, dZ, w.Data, accumulate ? T.One : T.Zero, dX);
        }
        if (Tape<T>.Wants(w))
        {
            var dW = tape.GradOf(w, out bool accumulate);      // [out × in] = [batch × out]ᵀ·[batch × in]
            backend.Gemm(true, false, outputs, inputs, batch, T.One, dZ, x.Data, accumulate ? T.One : T.Zero, dW);
        }
        if (Tape<T>.Wants(b))
        {
            var db = tape.GradOf(b!, out bool accumulate);     // [out] = column sums of dZ
            backend.ColumnSums(dZ, batch, outputs, db, accumulate);
        }
    }
}
