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
}
