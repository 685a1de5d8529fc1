using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Fill, copy and the BLAS-1 style updates on the SIMD CPU path: each is one TensorPrimitives call
/// per chunk. Sums of a product and an addend use <c>FusedMultiplyAdd</c> (one rounding), never
/// <c>MultiplyAdd</c> (which may round twice).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void Fill(View<T> x, T value)
    {
        Check.Owned(this, x, nameof(x));
        if (x.Length == 0) return;
        RunChunks(new LinearJob { Op = LinearOp.Fill, Result = x.Pointer(), S = value }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Copy(View<T> source, View<T> destination)
    {
        Check.Owned(this, source, nameof(source));
        Check.Owned(this, destination, nameof(destination));
        Check.SameLength(source, nameof(source), destination, nameof(destination));
        if (source.Length == 0 || source == destination) return;
        // Overlapping windows must be moved in one memmove (chunks copied in parallel would race).
        if (KernelChecks.PartlyOverlap(source, destination)) { source.Span().CopyTo(destination.Span()); return; }
        RunChunks(new LinearJob { Op = LinearOp.Copy, A = source.Pointer(), Result = destination.Pointer() }, source.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Scale(View<T> x, T alpha)
    {
        Check.Owned(this, x, nameof(x));
        if (x.Length == 0) return;
        RunChunks(new LinearJob { Op = LinearOp.Scale, A = x.Pointer(), Result = x.Pointer(), S = alpha }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Axpy(T alpha, View<T> x, View<T> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        if (x.Length == 0) return;
        RunChunks(new LinearJob { Op = LinearOp.MultiplyScalarAdd, A = x.Pointer(), Result = y.Pointer(), S = alpha }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Add(View<T> a, View<T> b, View<T> result)
    {
        KernelChecks.Binary(this, a, nameof(a), b, nameof(b), result, nameof(result));
        if (a.Length == 0) return;
        RunChunks(new LinearJob { Op = LinearOp.Add, A = a.Pointer(), B = b.Pointer(), Result = result.Pointer() }, a.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Multiply(View<T> a, View<T> b, View<T> result, bool accumulate)
    {
        KernelChecks.Binary(this, a, nameof(a), b, nameof(b), result, nameof(result));
        if (a.Length == 0) return;
        var op = accumulate ? LinearOp.MultiplyAdd : LinearOp.Multiply;
        RunChunks(new LinearJob { Op = op, A = a.Pointer(), B = b.Pointer(), Result = result.Pointer() }, a.Length);
    }

    /// <inheritdoc/>
    public override unsafe void ScaleByScalar(View<T> x, View<T> scalar, View<T> y, bool accumulate)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        KernelChecks.Scalar(this, scalar, nameof(scalar));
        if (x.Length == 0) return;
        T s = scalar.Span()[0]; // "on the device": for the CPU the device is this memory
        var op = accumulate ? LinearOp.MultiplyScalarAdd : LinearOp.Scale;
        RunChunks(new LinearJob { Op = op, A = x.Pointer(), Result = y.Pointer(), S = s }, x.Length);
    }

    private enum LinearOp { Fill, Copy, Scale, MultiplyScalarAdd, Add, Multiply, MultiplyAdd }

    /// <summary>One of the linear updates on one chunk.</summary>
    private unsafe struct LinearJob : IChunkJob
    {
        public LinearOp Op;
        public T* A, B, Result;
        public T S;

        public readonly double Run(int start, int count)
        {
            var result = new Span<T>(Result + start, count);
            var a = new ReadOnlySpan<T>(A + start, A == null ? 0 : count);
            var b = new ReadOnlySpan<T>(B + start, B == null ? 0 : count);
            switch (Op)
            {
                case LinearOp.Fill: result.Fill(S); break;
                case LinearOp.Copy: a.CopyTo(result); break;
                case LinearOp.Scale: TensorPrimitives.Multiply(a, S, result); break;                         // r = s·a
                case LinearOp.MultiplyScalarAdd: TensorPrimitives.FusedMultiplyAdd(a, S, result, result); break; // r += s·a
                case LinearOp.Add: TensorPrimitives.Add(a, b, result); break;                                // r = a + b
                case LinearOp.Multiply: TensorPrimitives.Multiply(a, b, result); break;                      // r = a ⊙ b
                case LinearOp.MultiplyAdd: TensorPrimitives.FusedMultiplyAdd(a, b, result, result); break;   // r += a ⊙ b
            }
            return 0;
        }
    }
}
