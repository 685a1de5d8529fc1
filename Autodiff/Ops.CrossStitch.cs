using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// The cross-stitch unit (Misra et al., CVPR 2016, eq. 1; docs/maths.md §17.6): a learnable linear mix of T task
/// columns. The columns are stored task-major, [T·batch × width] (column s's rows are the contiguous block s, as the
/// experts of <see cref="BatchedLinear{T}"/>), so read as a [T × batch·width] matrix X the unit is one GEMM,
/// <c>Y = α·X</c>: <c>y[r, b, h] = Σₛ α[r, s]·x[s, b, h]</c>. The GEMM is the engine's (SIMD on the CPU, tiled on
/// ILGPU; readable references in Kernels/Gemm), so the mix needs no kernel of its own.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// <c>Y = α·X</c> over task columns: <paramref name="columns"/> is [T·batch × width] (T = <paramref name="mix"/>.Cols),
    /// <paramref name="mix"/> is [R × T]; Y is [R·batch × width]. R = T mixes every column into every column (a hidden
    /// layer's unit); R = 1 is one row of a unit, what one task reads (the last layer's unit, row t for task t).
    /// </summary>
    public static Tensor<T> CrossStitch<T>(this Tape<T> tape, Tensor<T> columns, Tensor<T> mix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(mix);
        int tasks = mix.Cols, rows = mix.Rows;
        if (columns.Rows % tasks != 0)
            throw new ArgumentException($"CrossStitch: {columns} must have T·batch rows for the {tasks} columns of the mix {mix}.", nameof(columns));
        int block = columns.Rows / tasks * columns.Cols;                  // batch·width: one column's block
        var y = tape.NewActivation(rows * (columns.Rows / tasks), columns.Cols, columns.RequiresGrad || mix.RequiresGrad, "cross-stitch");
        tape.Backend.Gemm(false, false, rows, block, tasks, T.One, mix.Data, columns.Data, T.Zero, y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.CrossStitch, y);
            record.A = columns;
            record.B = mix;
        }
        return y;
    }

    /// <summary>dX (+)= αᵀ·dY (a [T × batch·width] GEMM); dα (+)= dY·Xᵀ (a [R × T] GEMM over batch·width).</summary>
    internal static void CrossStitchBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, mix) = (record.A!, record.B!);
        if (Tape<T>.Wants(x)) { var dX = tape.GradOf(x, out bool acc); CrossStitchColumnsGradient(tape, record, record.Output.Grad, dX, acc); }
        if (Tape<T>.Wants(mix)) { var dA = tape.GradOf(mix, out bool acc); CrossStitchMixGradient(tape, record, record.Output.Grad, dA, acc); }
    }

    /// <summary><see cref="CrossStitchBackward{T}"/> for each task's block of the stacked upstream gradient.</summary>
    internal static void CrossStitchBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (y, x, mix) = (record.Output, record.A!, record.B!);
        int length = y.Length;
        if (Tape<T>.Wants(x))
        {
            var dX = tape.StackedGradOf(x, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++) CrossStitchColumnsGradient(tape, record, y.StackedGrad.Slice(t * length, length), dX.For(t), acc);
        }
        if (Tape<T>.Wants(mix))
        {
            var dA = tape.StackedGradOf(mix, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++) CrossStitchMixGradient(tape, record, y.StackedGrad.Slice(t * length, length), dA.For(t), acc);
        }
    }

    private static void CrossStitchColumnsGradient<T>(Tape<T> tape, OpRecord<T> record, View<T> dY, View<T> dX, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, mix) = (record.A!, record.B!);
        int block = x.Length / mix.Cols;                                  // dX [T × block] = αᵀ [T × R] · dY [R × block]
        tape.Backend.Gemm(true, false, mix.Cols, block, mix.Rows, T.One, mix.Data, dY, accumulate ? T.One : T.Zero, dX);
    }

    private static void CrossStitchMixGradient<T>(Tape<T> tape, OpRecord<T> record, View<T> dY, View<T> dA, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, mix) = (record.A!, record.B!);
        int block = x.Length / mix.Cols;                                  // dα [R × T] = dY [R × block] · Xᵀ [block × T]
        tape.Backend.Gemm(false, true, mix.Rows, mix.Cols, block, T.One, dY, x.Data, accumulate ? T.One : T.Zero, dA);
    }
}
