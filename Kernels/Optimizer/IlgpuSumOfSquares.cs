using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The segmented sum of squares as an explicitly grouped ILGPU kernel, and the single-thread kernels
/// that write the step-control block. Readable reference: Kernels/Optimizer/CpuSumOfSquares.cs.
/// <para>
/// Reduction scheme: the flat buffer is cut into tiles of <c>group size × ElementsPerThread</c>
/// elements, one group per tile. A group finds the first segment its tile touches by binary search
/// over the offsets, then walks the segments that overlap the tile. In each piece (a segment ∩ the tile)
/// its threads read the 16-byte-aligned float4 inside the piece with coalesced 128-bit loads
/// (<see cref="StreamLayout"/> of the buffer: element <c>head + 4v</c> starts float4 v) and the at most 3 + 3
/// elements at the piece's ends as scalars; <see cref="GroupSumToFirst"/> adds the threads' sums (warp shuffles,
/// then one shared slot per warp, then shuffles in the first warp), and the first thread adds the group's share to
/// <c>result[s]</c> and, at the end, to the total <c>result[S]</c> with float atomics: one atomic per group and
/// piece. Every thread of a group runs the same segment loop (it depends only on the tile), so the
/// group-wide reductions and barriers are uniform. Atomics make the low bits depend on the order in which
/// groups finish (well inside float32 tolerance). A NaN gradient shows as +∞ in the sums (see the kernel).
/// </para>
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Elements each thread squares per segment piece (tile = group size × this).</summary>
    private const int SumOfSquaresElementsPerThread = 32;

    private Action<AcceleratorStream, KernelConfig, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<Vec4, Stride1D.Dense>,
        ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int, int, StreamLayout>? _sumOfSquaresKernel;

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
        _sumOfSquaresKernel ??= Accelerator.LoadKernel<ArrayView1D<float, Stride1D.Dense>, ArrayView1D<Vec4, Stride1D.Dense>,
            ArrayView1D<int, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, int, int, StreamLayout>(SumOfSquaresKernel);
        int groupSize = SumOfSquaresGroupSize;
        int tile = groupSize * SumOfSquaresElementsPerThread;
        int groups = (int)(((long)x.Length + tile - 1) / tile);
        var layout = StreamLayout.Of(x.Length, x.Offset);
        var values = x.Ilgpu();
        _sumOfSquaresKernel(Launched(), new KernelConfig(groups, groupSize), values, Vectors(values, layout), segmentOffsets.Ilgpu(), sums,
            segments, tile, layout);
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

    /// <summary>One group: the squares of one tile of x, split by segment, added atomically into result.
    /// <paramref name="vectors"/> is x's float4 part (<see cref="Vectors"/> of <paramref name="layout"/>).</summary>
    private static void SumOfSquaresKernel(ArrayView1D<float, Stride1D.Dense> x, ArrayView1D<Vec4, Stride1D.Dense> vectors,
        ArrayView1D<int, Stride1D.Dense> offsets, ArrayView1D<float, Stride1D.Dense> result, int segments, int tile, StreamLayout layout)
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
            // The float4 wholly inside [start, end): v in [first, last), elements head + 4v … head + 4v + 3.
            int first = (start - layout.Head + 3) >> 2, last = XMath.Min((end - layout.Head) >> 2, layout.Vectors);
            if (last < first) last = first;
            int scalarEnd = last > first ? layout.Head + 4 * first : end; // the head piece, or the whole piece without float4
            // Two float4 per iteration (two 128-bit loads in flight per thread), then the odd one.
            float sum = 0f, other = 0f;
            int v = first + Group.IdxX;
            for (; v + Group.DimX < last; v += 2 * Group.DimX)
            {
                var q = vectors[v];
                var r = vectors[v + Group.DimX];
                sum += q.X * q.X + q.Y * q.Y + q.Z * q.Z + q.W * q.W;
                other += r.X * r.X + r.Y * r.Y + r.Z * r.Z + r.W * r.W;
            }
            if (v < last)
            {
                var q = vectors[v];
                sum += q.X * q.X + q.Y * q.Y + q.Z * q.Z + q.W * q.W;
            }
            sum += other;
            for (int i = start + Group.IdxX; i < scalarEnd; i += Group.DimX) sum += x[i] * x[i];
            if (last > first)
                for (int i = layout.Head + 4 * last + Group.IdxX; i < end; i += Group.DimX) sum += x[i] * x[i];
            sum = GroupSumToFirst(sum);
            // A NaN gradient is reported as +∞: ILGPU's CPU accelerator implements float atomics as compare-and-swap
            // loops that compare values, and NaN ≠ NaN would spin for ever. Squares are never negative, so +∞ is
            // absorbing and the guard sees the same thing.
            if (XMath.IsNaN(sum)) sum = float.PositiveInfinity;
            if (Group.IsFirstThread && end > start)
            {
                Atomic.Add(ref result[s], sum);
                total += sum;
            }
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
