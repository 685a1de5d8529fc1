using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary><c>y = a + b</c> elementwise (same shapes).</summary>
    public static Tensor<T> Add<T>(this Tape<T> tape, Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Shape != b.Shape)
            throw new ArgumentException($"Add: {a} and {b} must have the same shape.", nameof(b));
        var y = tape.NewActivation(a.Rows, a.Cols, a.RequiresGrad || b.RequiresGrad, "add");
        tape.Backend.Add(a.Data, b.Data, y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Add, y);
            record.A = a;
            record.B = b;
        }
        return y;
    }

    /// <summary>dA = dY, dB = dY (a sum passes its gradient through unchanged to both operands).</summary>
    internal static void AddBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dY = record.Output.Grad;
        if (Tape<T>.Wants(record.A)) PassThrough(tape, dY, record.A!, T.One);
        if (Tape<T>.Wants(record.B)) PassThrough(tape, dY, record.B!, T.One);
    }

    /// <summary><c>y = α·x</c> for a constant α known on the host (e.g. a fixed loss weight), rounded to T.</summary>
    public static Tensor<T> Scale<T>(this Tape<T> tape, Tensor<T> x, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        T alpha = T.CreateChecked(scale);
        var y = tape.NewActivation(x.Rows, x.Cols, x.RequiresGrad, "scale");
        tape.Backend.Copy(x.Data, y.Data);
        tape.Backend.Scale(y.Data, alpha);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Scale, y);
            record.A = x;
            record.Alpha = alpha;
        }
        return y;
    }

    /// <summary>dX = α·dY.</summary>
    internal static void ScaleBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T> =>
        PassThrough(tape, record.Output.Grad, record.A!, record.Alpha);

    /// <summary>Writes (first write of the pass) or adds <c>α·dY</c> into <paramref name="target"/>'s gradient.</summary>
    private static void PassThrough<T>(Tape<T> tape, View<T> dY, Tensor<T> target, T alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dX = tape.GradOf(target, out bool accumulate);
        if (accumulate)
        {
            tape.Backend.Axpy(alpha, dY, dX);
            return;
        }
        tape.Backend.Copy(dY, dX);
        if (alpha != T.One) tape.Backend.Scale(dX, alpha);
    }

    /// <summary><c>s = Σᵢ xᵢ</c> over every element: a 1×1 tensor.</summary>
    public static Tensor<T> Sum<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Reduce(tape, x, OpKind.Sum, T.One, "sum");

    /// <summary><c>m = (1/n)·Σᵢ xᵢ</c> over every element: a 1×1 tensor.</summary>
    public static Tensor<T> Mean<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Reduce(tape, x, OpKind.Mean, T.One / T.CreateChecked(x.Length), "mean");

    private static Tensor<T> Reduce<T>(Tape<T> tape, Tensor<T> x, OpKind kind, T scale, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = tape.NewActivation(1, 1, x.RequiresGrad, name);
        tape.Backend.Sum(x.Data, y.Data, scale);
        if (y.RequiresGrad)
        {
            var record = tape.Record(kind, y);
            record.A = x;
            // Every element's derivative is the same constant c (1 for the sum, 1/n for the mean); the
            // backward broadcasts the upstream scalar as dX (+)= upstream·c, with c saved here as a vector.
            record.Saved = tape.Arena.Take(x.Length);
            tape.Backend.Fill(record.Saved, scale);
        }
        return y;
    }

    /// <summary>dxᵢ = c·ds with c = 1 (sum) or 1/n (mean); ds is read on the device.</summary>
    internal static void ReduceBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dX = tape.GradOf(record.A!, out bool accumulate);
        tape.Backend.ScaleByScalar(record.Saved, record.Output.Grad, dX, accumulate);
    }
}
