using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Inverted dropout, PyTorch's <c>nn.Dropout(p)</c>: while the tape is <see cref="Tape{T}.Training"/>,
    /// <c>y = m ⊙ x / (1 − p)</c> with mᵢ ∈ {0, 1} drawn by Philox-4x32-10 from (<see cref="Tape{T}.RandomSeed"/>,
    /// <see cref="Tape{T}.RandomStep"/>, <paramref name="layer"/>, i) — <see cref="DropoutMask"/>; otherwise (evaluation,
    /// prediction) and for p = 0 it is the identity and returns <paramref name="x"/> itself. Elementwise, so row-independent:
    /// the stacked per-task backward runs it. Maths: docs/maths.md §21.1.
    /// </summary>
    public static Tensor<T> Dropout<T>(this Tape<T> tape, Tensor<T> x, double p, uint layer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        var mask = new DropoutMask(tape.RandomSeed, tape.RandomStep, layer, p);   // checks p ∈ [0, 1)
        if (!tape.Training || p == 0) return x;
        var y = tape.NewActivation(x.Rows, x.Cols, x.RequiresGrad, "dropout");
        tape.Backend.Dropout(x.Data, mask, y.Data, accumulate: false);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Dropout, y);
            record.A = x;
            record.Mask = mask;
        }
        return y;
    }

    /// <summary>dX (+)= m ⊙ dY / (1 − p), the mask regenerated from its key.</summary>
    internal static void DropoutBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dX = tape.GradOf(record.A!, out bool accumulate);
        tape.Backend.Dropout(record.Output.Grad, record.Mask, dX, accumulate);
    }

    /// <summary><see cref="DropoutBackward{T}"/> for all tasks at once: every task's block gets the same mask.</summary>
    internal static void DropoutBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int tasks = tape.StackedTasks, length = record.Output.Length;
        var dY = record.Output.StackedGrad;
        var dX = tape.StackedGradOf(record.A!, out bool accumulate);
        for (int t = 0; t < tasks; t++) tape.Backend.Dropout(dY.Slice(t * length, length), record.Mask, dX.For(t), accumulate);
    }
}
