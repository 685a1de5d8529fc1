using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>The last part of the fused epilogue, applied to a row segment of a C tile right after the
/// micro-kernel wrote it (while it is still in L1): <c>row = act(row + bias)</c>.</summary>
internal static unsafe class CpuGemmEpilogue<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Adds <paramref name="bias"/> (same length as <paramref name="row"/>, or null) and applies the activation in place.</summary>
    public static void BiasAndActivation(Span<T> row, T* bias, Activation activation)
    {
        if (bias is not null) TensorPrimitives.Add(row, new ReadOnlySpan<T>(bias, row.Length), row);
        switch (activation)
        {
            case Activation.Identity: break;
            case Activation.Relu: TensorPrimitives.Max(row, T.Zero, row); break;
            case Activation.Tanh: TensorPrimitives.Tanh(row, row); break;
            case Activation.Sigmoid: TensorPrimitives.Sigmoid(row, row); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }
}
