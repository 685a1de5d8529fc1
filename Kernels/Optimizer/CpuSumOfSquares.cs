using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The segmented sum of squares (every per-parameter ‖gᵢ‖² and the global ‖g‖² in one pass) and the
/// single-"thread" update of the step-control block, on the SIMD CPU path. Sums of squares are taken
/// by TensorPrimitives over blocks of 4096 elements and accumulated in float64, so a float32 norm over
/// millions of gradients is as accurate as its inputs.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <summary>Elements summed in the element type before the partial is added in float64.</summary>
    private const int SumOfSquaresBlock = 4096;

    /// <inheritdoc/>
    public override unsafe void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result)
    {
        OptimizerChecks.SegmentedSumOfSquares(this, x, segmentOffsets, result);
        var offsets = segmentOffsets.Span();
        var sums = result.Span();
        int segments = offsets.Length - 1;
        double total = 0;
        for (int s = 0; s < segments; s++)
        {
            int start = offsets[s], length = offsets[s + 1] - start;
            double sum = length <= 0 ? 0 : RunChunks(new SumOfSquaresJob { X = x.Pointer() + start }, length);
            sums[s] = T.CreateTruncating(sum);
            total += sum;
        }
        sums[segments] = T.CreateTruncating(total);
    }

    /// <inheritdoc/>
    public override void UpdateStepControl(View<T> sumOfSquares, T maxNorm, View<T> control)
    {
        OptimizerChecks.UpdateStepControl(this, sumOfSquares, double.CreateTruncating(maxNorm), control);
        var c = control.Span();
        double norm = Math.Sqrt(double.CreateTruncating(sumOfSquares.Span()[0]));
        bool skip = !double.IsFinite(norm);
        double scale = skip ? 1 : Math.Min(1, double.CreateTruncating(maxNorm) / (norm + 1e-6));
        c[StepControl.GradientScale] = T.CreateTruncating(scale);
        c[StepControl.Skip] = skip ? T.One : T.Zero;
        if (skip) c[StepControl.SkippedSteps] += T.One; else c[StepControl.StepCount] += T.One;
        c[StepControl.GlobalNorm] = T.CreateTruncating(norm);
    }

    /// <inheritdoc/>
    public override void AdvanceStep(View<T> control)
    {
        Check.Owned(this, control, nameof(control));
        Check.Length(control, StepControl.Length, nameof(control));
        var c = control.Span();
        c[StepControl.GradientScale] = T.One;
        c[StepControl.Skip] = T.Zero;
        c[StepControl.StepCount] += T.One;
        c[StepControl.GlobalNorm] = T.NaN;
    }

    /// <summary>Σ x² over a window, in blocks of <see cref="SumOfSquaresBlock"/> accumulated in float64.</summary>
    private unsafe struct SumOfSquaresJob : IChunkJob
    {
        public T* X;

        public readonly double Run(int start, int count)
        {
            double sum = 0;
            for (int i = start, end = start + count; i < end; i += SumOfSquaresBlock)
            {
                var block = new ReadOnlySpan<T>(X + i, Math.Min(SumOfSquaresBlock, end - i));
                sum += double.CreateTruncating(TensorPrimitives.SumOfSquares(block));
            }
            return sum;
        }
    }
}
