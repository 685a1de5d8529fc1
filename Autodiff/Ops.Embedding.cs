using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// Embeds the categorical columns of an input batch: x [rows × (p + k)] holds p numeric columns, passed through, then k
    /// columns of category indices (integers stored as floats); table t [countₜ × dimₜ] (PyTorch's <c>nn.Embedding.weight</c>)
    /// maps column p + t to dimₜ features. The output is [rows × (p + Σ dimₜ)]: <c>y[r] = (x[r, :p], E₀[i_{r,0}], …, E_{k−1}[i_{r,k−1}])</c>.
    /// Backward: each table's gradient is the scatter-add of its output block (<see cref="Backend{T}.EmbeddingScatterAdd"/>); x
    /// is data (indices have no gradient), so it must not require one. Row-independent: the stacked per-task backward runs it.
    /// Maths: docs/maths.md §21.3.
    /// </summary>
    public static Tensor<T> EmbedInputs<T>(this Tape<T> tape, Tensor<T> x, int passThrough, IReadOnlyList<Tensor<T>> tables)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(tables);
        if (x.RequiresGrad)
            throw new ArgumentException($"EmbedInputs: {x} requires a gradient, but its index columns have none; pass the input batch as data.", nameof(x));
        if (passThrough < 0 || passThrough + tables.Count != x.Cols)
            throw new ArgumentException($"EmbedInputs: {x} must hold {passThrough} numeric columns and {tables.Count} index columns.", nameof(x));
        int width = passThrough;
        bool requiresGrad = false;
        for (int t = 0; t < tables.Count; t++)            // not foreach: an interface enumerator allocates
        {
            width += tables[t].Cols;
            requiresGrad |= tables[t].RequiresGrad;
        }
        var y = tape.NewActivation(x.Rows, width, requiresGrad, "embedded");
        tape.Backend.CopyColumns(x.Data, x.Rows, x.Cols, passThrough, y.Data, width);
        for (int t = 0, offset = passThrough; t < tables.Count; offset += tables[t].Cols, t++)
            tape.Backend.EmbeddingGather(x.Data, tables[t].Data, Layout(x, passThrough, t, tables[t], width, offset), y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Embedding, y);
            record.A = x;
            record.Groups = passThrough;
            for (int t = 0; t < tables.Count; t++) record.Inputs.Add(tables[t]);
        }
        return y;
    }

    private static EmbeddingLayout Layout<T>(Tensor<T> x, int passThrough, int t, Tensor<T> table, int width, int offset)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        new(x.Rows, x.Cols, passThrough + t, table.Rows, table.Cols, width, offset);

    /// <summary>dEₜ (+)= scatter-add of dY's block t (rows by index).</summary>
    internal static void EmbeddingBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = record.A!;
        int width = record.Output.Cols;
        for (int t = 0, offset = record.Groups; t < record.Inputs.Count; offset += record.Inputs[t].Cols, t++)
        {
            var table = record.Inputs[t];
            if (!Tape<T>.Wants(table)) continue;
            var dTable = tape.GradOf(table, out bool accumulate);
            tape.Backend.EmbeddingScatterAdd(x.Data, record.Output.Grad, Layout(x, record.Groups, t, table, width, offset), dTable, accumulate);
        }
    }

    /// <summary><see cref="EmbeddingBackward{T}"/> for all tasks at once: task τ's block of the stacked dY into τ's window of each table's gradient.</summary>
    internal static void EmbeddingBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = record.A!;
        int width = record.Output.Cols, length = record.Output.Length, tasks = tape.StackedTasks;
        for (int t = 0, offset = record.Groups; t < record.Inputs.Count; offset += record.Inputs[t].Cols, t++)
        {
            var table = record.Inputs[t];
            if (!Tape<T>.Wants(table)) continue;
            var dTable = tape.StackedGradOf(table, out bool accumulate);
            var layout = Layout(x, record.Groups, t, table, width, offset);
            for (int task = 0; task < tasks; task++)
                tape.Backend.EmbeddingScatterAdd(x.Data, record.Output.StackedGrad.Slice(task * length, length), layout, dTable.For(task), accumulate);
        }
    }
}
