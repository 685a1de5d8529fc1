using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>
    /// The element-wise product <c>y = a ⊙ b</c> (same shapes): an ordered task defined as the product of two others'
    /// probabilities, ESMM's pCTCVR = pCTR·pCVR (Ma et al., SIGIR 2018, eq. 2; docs/maths.md §17.6). The kernel is
    /// <see cref="Backend{T}.Multiply"/> (SIMD on the CPU, ILGPU on the device; parity tests in Tests/Kernels).
    /// </summary>
    public static Tensor<T> Product<T>(this Tape<T> tape, Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Shape != b.Shape) throw new ArgumentException($"Product: {a} and {b} must have the same shape.", nameof(b));
        var y = tape.NewActivation(a.Rows, a.Cols, a.RequiresGrad || b.RequiresGrad, "product");
        tape.Backend.Multiply(a.Data, b.Data, y.Data, accumulate: false);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Product, y);
            record.A = a;
            record.B = b;
        }
        return y;
    }

    /// <summary>da (+)= dy ⊙ b, db (+)= dy ⊙ a (∂(aᵢbᵢ)/∂aᵢ = bᵢ). When a is b, both terms land in its one gradient: 2a ⊙ dy.</summary>
    internal static void ProductBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (a, b, dY) = (record.A!, record.B!, record.Output.Grad);
        if (Tape<T>.Wants(a)) { var dA = tape.GradOf(a, out bool acc); tape.Backend.Multiply(dY, b.Data, dA, acc); }
        if (Tape<T>.Wants(b)) { var dB = tape.GradOf(b, out bool acc); tape.Backend.Multiply(dY, a.Data, dB, acc); }
    }

    /// <summary><see cref="ProductBackward{T}"/> for all T tasks of the stacked per-task pass: daₜ (+)= dyₜ ⊙ b, dbₜ (+)= dyₜ ⊙ a
    /// for each task's block of the stacked upstream (a and b are the same for every task: the product is row-independent,
    /// so T launches of the plain kernel are its stacked backward). Reached when a product task's value feeds the tower of
    /// a task another task's loss trains (docs/maths.md §17.6).</summary>
    internal static void ProductBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (a, b, y) = (record.A!, record.B!, record.Output);
        if (Tape<T>.Wants(a))
        {
            var dA = tape.StackedGradOf(a, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++) tape.Backend.Multiply(y.StackedGrad.Slice(t * y.Length, y.Length), b.Data, dA.For(t), acc);
        }
        if (Tape<T>.Wants(b))
        {
            var dB = tape.StackedGradOf(b, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++) tape.Backend.Multiply(y.StackedGrad.Slice(t * y.Length, y.Length), a.Data, dB.For(t), acc);
        }
    }
}
