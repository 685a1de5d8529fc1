using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The segmented sum of squares as an explicitly grouped ILGPU kernel, and the single-thread kernels
/// that write the step-control block.
/// <para>
/// Reduction scheme: the flat buffer is cut into tiles of <c>group size × ElementsPerThread</c>
/// elements, one group per tile. A group finds the first segment its tile touches by binary search
/// over the offsets, then walks the segments that overlap the tile: its threads sum squares with a
/// coalesced stride, <c>GroupExtensions.Reduce</c> (ILGPU.Algorithms, shared memory + warp shuffles)
/// combines them, and the first thread adds the group's share to <c>result[s]</c> and, at the end, to
/// the total <c>result[S]</c> with float atomics. Every thread of a group runs the same segment loop
/// (it depends only on the tile), so the group-wide reductions and barriers are uniform. Atomics make
/// the low bits depend on the order in which groups finish (well inside float32 tolerance). A NaN
/// gradient shows as +∞ in the sums (see the kernel).
/// </para>
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Elements each thread squares per segment piece (tile = group size × this).</summary>
    private const int SumOfSquaresElementsPerThread = 16;

    private Action<AcceleratorStream, KernelConfig, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, int, int>? _sumOfSquaresKernel;

    private Action<AcceleratorStream, Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, float>? _updateStepControlKernel;

    private Action<AcceleratorStream, Index1D, ArrayView1D<float, Stride1D.Dense>>? _advanceStepKernel;

    /// <summary>Threads per group of the reduction: 256 where the device allows it.</summary>
    private int SumOfSquaresGroupSize => Math.Min(256, Accelerator.MaxNumThreadsPerGroup);

    /// <inheritdoc/>
    public override void SegmentedSumOfSquares(View<float> x, View<int> segmentOffsets, View<float> result)
    {
        OptimizerChecks.SegmentedSumOfSquares(this, x, segmentOffsets, result);
        var sums = result.Ilgpu();
        sums.MemSetToZero(Launched());
        int segments = segmentOffsets.Length - 1;
        if (x.Length == 0 || segments == 0) return;
        _sumOfSquaresKernel ??= Accelerator.LoadKernel<ArrayView1D<float, Stride1D.Dense>, ArrayView1D<int, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, int, int>(SumOfSquaresKernel);
        int groupSize = SumOfSquaresGroupSize;
        int tile = groupSize * SumOfSquaresElementsPerThread;
        int groups = (int)(((long)x.Length + tile - 1) / tile);
        _sumOfSquaresKernel(Launched(), new KernelConfig(groups, groupSize), x.Ilgpu(), segmentOffsets.Ilgpu(), sums, segments, tile);
    }

    /// <inheritdoc/>
    public override void UpdateStepControl(View<float> sumOfSquares, float maxNorm, View<float> control)
    {
        OptimizerChecks.UpdateStepControl(this, sumOfSquares, maxNorm, control);
        _updateStepControlKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, float>(UpdateStepControlKernel);
        _updateStepControlKernel(Launched(), 1, sumOfSquares.Ilgpu(), control.Ilgpu(), maxNorm);
    }

    /// <inheritdoc/>
    public override void AdvanceStep(View<float> control)
    {
        Check.Owned(this, control, nameof(control));
        Check.Length(control, StepControl.Length, nameof(control));
        _advanceStepKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView1D<float, Stride1D.Dense>>(AdvanceStepKernel);
        _advanceStepKernel(Launched(), 1, control.Ilgpu());
    }

    /// <summary>One group: the squares of one tile of x, split by segment, added atomically into result.</summary>
    private static void SumOfSquaresKernel(ArrayView1D<float, Stride1D.Dense> x, ArrayView1D<int, Stride1D.Dense> offsets,
        ArrayView1D<float, Stride1D.Dense> result, int segments, int tile)
    {
        int tileStart = Grid.IdxX * tile;
        int tileEnd = XMath.Min(tileStart + tile, x.IntLength);

        // The last segment that starts at or before the tile (the one holding x[tileStart]).
        int lo = 0, hi = segments - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (offsets[mid] <= tileStart) lo = mid; else hi = mid - 1;
        }

        float total = 0f;
        for (int s = lo; s < segments && offsets[s] < tileEnd; s++)
        {
            int start = XMath.Max(offsets[s], tileStart), end = XMath.Min(offsets[s + 1], tileEnd);
            float sum = 0f;
            for (int i = start + Group.IdxX; i < end; i += Group.DimX)
            {
                float value = x[i];
                sum += value * value;
            }
            // A NaN gradient is reported as +∞: ILGPU's CPU accelerator implements float atomics (which its
            // group reduction also uses) as compare-and-swap loops that compare values, and NaN ≠ NaN would
            // spin for ever. Squares are never negative, so +∞ is absorbing and the guard sees the same thing.
            if (XMath.IsNaN(sum)) sum = float.PositiveInfinity;
            sum = GroupExtensions.Reduce<float, AddFloat>(sum);
            if (Group.IsFirstThread && end > start)
            {
                Atomic.Add(ref result[s], sum);
                total += sum;
            }
            Group.Barrier(); // the reduction's shared memory is reused by the next segment
        }
        if (Group.IsFirstThread) Atomic.Add(ref result[segments], total);
    }

    /// <summary>The single thread that turns ‖g‖² into the step-control block.</summary>
    private static void UpdateStepControlKernel(Index1D index, ArrayView1D<float, Stride1D.Dense> sumOfSquares,
        ArrayView1D<float, Stride1D.Dense> control, float maxNorm)
    {
        float norm = XMath.Sqrt(sumOfSquares[0]);
        bool skip = XMath.IsNaN(norm) || XMath.IsInfinity(norm);
        control[StepControl.GradientScale] = skip ? 1f : XMath.Min(1f, maxNorm / (norm + 1e-6f));
        control[StepControl.Skip] = skip ? 1f : 0f;
        if (skip) control[StepControl.SkippedSteps] += 1f;
        else control[StepControl.StepCount] += 1f;
        control[StepControl.GlobalNorm] = norm;
    }

    /// <summary>The single thread that begins an unclipped, unguarded step.</summary>
    private static void AdvanceStepKernel(Index1D index, ArrayView1D<float, Stride1D.Dense> control)
    {
        control[StepControl.GradientScale] = 1f;
        control[StepControl.Skip] = 0f;
        control[StepControl.StepCount] += 1f;
        control[StepControl.GlobalNorm] = float.NaN;
    }
}
