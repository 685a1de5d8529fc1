using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Mean squared error on the SIMD CPU path (maths: docs/maths.md §8, "Mean squared error").
/// The sum of squares is taken in blocks (TensorPrimitives.SumOfSquares of the block's differences,
/// in T) whose sums are added in double, then divided by N in double.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void MseForward(View<T> prediction, View<T> target, View<T> loss)
    {
        KernelChecks.Mse(this, prediction, target);
        KernelChecks.Scalar(this, loss, nameof(loss));
        double sumOfSquares = RunChunks(new SquaredErrorJob { P = prediction.Pointer(), Target = target.Pointer() }, prediction.Length);
        loss.Span()[0] = FromDouble(sumOfSquares / prediction.Length);
    }

    /// <inheritdoc/>
    public override unsafe void MseBackward(View<T> prediction, View<T> target, View<T> upstream, View<T> dPrediction, bool accumulate)
    {
        KernelChecks.Mse(this, prediction, target);
        KernelChecks.Binary(this, prediction, nameof(prediction), target, nameof(target), dPrediction, nameof(dPrediction));
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        // ∂L/∂pᵢ = 2(pᵢ − tᵢ)/N, times the upstream gradient: one coefficient c = 2·u/N for all elements.
        T c = FromDouble(2.0 * ToDouble(upstream.Span()[0]) / prediction.Length);
        var job = new MseGradientJob { P = prediction.Pointer(), Target = target.Pointer(), D = dPrediction.Pointer(), C = c, Accumulate = accumulate };
        RunChunks(job, prediction.Length);
    }

    /// <summary>Σ (p − t)² over one chunk: block differences on the stack, SumOfSquares per block, block sums in double.</summary>
    private unsafe struct SquaredErrorJob : IChunkJob
    {
        public T* P, Target;

        public readonly double Run(int start, int count)
        {
            Span<T> difference = stackalloc T[SumBlock];
            double total = 0;
            for (int i = 0; i < count; i += SumBlock)
            {
                int n = Math.Min(SumBlock, count - i);
                var d = difference[..n];
                TensorPrimitives.Subtract(new ReadOnlySpan<T>(P + start + i, n), new ReadOnlySpan<T>(Target + start + i, n), d);
                total += ToDouble(TensorPrimitives.SumOfSquares<T>(d));
            }
            return total;
        }
    }

    /// <summary>dp (+)= c·(p − t) over one chunk.</summary>
    private unsafe struct MseGradientJob : IChunkJob
    {
        public T* P, Target, D;
        public T C;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            Span<T> difference = stackalloc T[SumBlock];
            for (int i = 0; i < count; i += SumBlock)
            {
                int n = Math.Min(SumBlock, count - i);
                var d = new Span<T>(D + start + i, n);
                var diff = difference[..n];
                TensorPrimitives.Subtract(new ReadOnlySpan<T>(P + start + i, n), new ReadOnlySpan<T>(Target + start + i, n), diff);
                if (Accumulate) TensorPrimitives.FusedMultiplyAdd(diff, C, d, d); // d += c·(p − t)
                else TensorPrimitives.Multiply(diff, C, d);                        // d  = c·(p − t)
            }
            return 0;
        }
    }
}
