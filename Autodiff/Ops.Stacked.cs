using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// <see cref="LinearBackward{T}"/> for all T tasks of <see cref="Tape{T}.BackwardPerTask"/> at once. The
    /// output's gradient is the stacked [T·batch × out] matrix dY = [dY₀; dY₁; …]; the forward (X, W, Y) is
    /// the same for every task. Then, per task i: dZᵢ = dYᵢ ⊙ f′(Y), dWᵢ = dZᵢᵀ·X, dbᵢ = Σ_rows dZᵢ (into row i
    /// of the per-task buffer), and for all tasks together dX = dZ·W, one GEMM of T·batch rows.
    /// </summary>
    internal static void LinearBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var backend = tape.Backend;
        int tasks = tape.StackedTasks;
        var y = record.Output;
        var x = record.A!;
        var w = record.B!;
        var b = record.C;
        int batch = x.Rows, inputs = x.Cols, outputs = w.Rows, length = y.Length;

        var dZ = y.StackedGrad;                                // [T·batch × out]
        if (record.Activation != Activation.Identity)
        {
            var dY = dZ;
            dZ = tape.StackedScratchOf(record, length);
            for (int t = 0; t < tasks; t++)
                backend.ActivationBackwardFromOutput(record.Activation, y.Data, dY.Slice(t * length, length), dZ.Slice(t * length, length), accumulate: false);
        }
        if (Tape<T>.Wants(x))
        {
            var dX = tape.StackedGradOf(x, out bool accumulate);
            if (dX.IsContiguous)                              // [T·batch × in] = [T·batch × out]·[out × in]
                backend.Gemm(false, false, tasks * batch, inputs, outputs, T.One, dZ, w.Data, accumulate ? T.One : T.Zero, dX.All(tasks));
            else
                for (int t = 0; t < tasks; t++)
                    backend.Gemm(false, false, batch, inputs, outputs, T.One, dZ.Slice(t * length, length), w.Data, accumulate ? T.One : T.Zero, dX.For(t));
        }
        if (Tape<T>.Wants(w))
        {
            var dW = tape.StackedGradOf(w, out bool accumulate);
            for (int t = 0; t < tasks; t++)                  // [out × in] = [batch × out]ᵀ·[batch × in]
                backend.Gemm(true, false, outputs, inputs, batch, T.One, dZ.Slice(t * length, length), x.Data, accumulate ? T.One : T.Zero, dW.For(t));
        }
        if (Tape<T>.Wants(b))
        {
            var db = tape.StackedGradOf(b!, out bool accumulate);
            for (int t = 0; t < tasks; t++)
                backend.ColumnSums(dZ.Slice(t * length, length), batch, outputs, db.For(t), accumulate);
        }
    }

    /// <summary><see cref="ActivationBackward{T}"/> for all tasks at once: dXᵢ = dYᵢ ⊙ f′(Y) for each task's block.</summary>
    internal static void ActivationBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int tasks = tape.StackedTasks;
        var y = record.Output;
        int length = y.Length;
        var dY = y.StackedGrad;
        var dX = tape.StackedGradOf(record.A!, out bool accumulate);
        for (int t = 0; t < tasks; t++)
            tape.Backend.ActivationBackwardFromOutput(record.Activation, y.Data, dY.Slice(t * length, length), dX.For(t), accumulate);
    }
}
