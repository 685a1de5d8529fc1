using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Columns side by side: <c>y = [x₀ | x₁ | …]</c> (equal rows), y [rows × Σ colsᵢ]. A tower reading other tasks'
    /// predictions reads the concatenation of its shared features and those predictions (docs/maths.md §17.7). Forward and
    /// backward are <see cref="Backend{T}.CopyColumnBlock"/> (SIMD on the CPU, ILGPU on the device): dxᵢ (+)= the columns of
    /// dy that xᵢ filled.
    /// </summary>
    public static Tensor<T> ConcatColumns<T>(this Tape<T> tape, params ReadOnlySpan<Tensor<T>> parts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Positive(parts.Length, nameof(parts));
        int rows = parts[0].Rows, cols = 0;
        bool requiresGrad = false;
        foreach (var p in parts)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parts));
            if (p.Rows != rows) throw new ArgumentException($"ConcatColumns: {p} has {p.Rows} rows but {parts[0]} has {rows}.", nameof(parts));
            cols += p.Cols;
            requiresGrad |= p.RequiresGrad;
        }
        var y = tape.NewActivation(rows, cols, requiresGrad, "concat_columns");
        int at = 0;
        foreach (var p in parts)
        {
            tape.Backend.CopyColumnBlock(p.Data, y.Data, new ColumnBlock(rows, p.Cols, 0, cols, at, p.Cols));
            at += p.Cols;
        }
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.ConcatColumns, y);
            foreach (var p in parts) record.Inputs.Add(p);
        }
        return y;
    }

    /// <summary>dxᵢ (+)= dy[:, oᵢ : oᵢ + colsᵢ].</summary>
    internal static void ConcatColumnsBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        int at = 0;
        foreach (var p in record.Inputs)
        {
            if (Tape<T>.Wants(p))
            {
                var dP = tape.GradOf(p, out bool accumulate);
                tape.Backend.CopyColumnBlock(y.Grad, dP, new ColumnBlock(y.Rows, y.Cols, at, p.Cols, 0, p.Cols, accumulate));
            }
            at += p.Cols;
        }
    }

    /// <summary>The stacked backward (all T tasks at once, <see cref="Tape{T}.BackwardPerTaskThrough"/>): the row-independent op
    /// on [T·rows] rows, so dxᵢ (+)= dy[:, oᵢ : oᵢ + colsᵢ] is one column-block copy over every task's rows when xᵢ's
    /// stacked gradient is one [T × rows × colsᵢ] block (an activation), else one per task (a leaf's gradient).</summary>
    internal static void ConcatColumnsBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        int tasks = tape.StackedTasks, at = 0;
        foreach (var p in record.Inputs)
        {
            if (Tape<T>.Wants(p))
            {
                var dP = tape.StackedGradOf(p, out bool accumulate);
                if (dP.IsContiguous)
                    tape.Backend.CopyColumnBlock(y.StackedGrad.Slice(0, tasks * y.Length), dP.All(tasks),
                        new ColumnBlock(tasks * y.Rows, y.Cols, at, p.Cols, 0, p.Cols, accumulate));
                else
                    for (int t = 0; t < tasks; t++)
                        tape.Backend.CopyColumnBlock(y.StackedGrad.Slice(t * y.Length, y.Length), dP.For(t),
                            new ColumnBlock(y.Rows, y.Cols, at, p.Cols, 0, p.Cols, accumulate));
            }
            at += p.Cols;
        }
    }

    /// <summary>
    /// A copy of <paramref name="x"/> that no gradient flows back through (PyTorch's <c>x.detach()</c>): the ops that read it
    /// treat it as a constant. A tower reading a detached prediction does not train the task that made it (§17.7).
    /// </summary>
    public static Tensor<T> Detach<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = tape.NewActivation(x.Rows, x.Cols, requiresGrad: false, "detach");
        tape.Backend.Copy(x.Data, y.Data);
        return y;
    }
}
