using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The two-pass reduction scheme every ILGPU scalar reduction uses (Sum, Dot, MSE, cross-entropy,
/// CountCorrect). Pass 1 is an explicitly grouped kernel: each thread accumulates its share of the
/// terms (grid-stride loop), the group adds its threads' values with warp shuffles and one shared slot per warp
/// (<see cref="GroupSumToFirst"/>), and thread 0 writes the group's partial sum to a scratch buffer.
/// Pass 2 (<see cref="FinalSumKernel"/>) is one group that adds the partial sums and writes
/// <c>result[0] = scale·Σ</c>. No atomics: the summation order is fixed, so results are
/// deterministic run to run; the scalar never leaves the device.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Largest group the kernels use (the static shared-memory arrays have this size).</summary>
    internal const int MaxGroupSize = 256;

    /// <summary>Most groups pass 1 launches (size of the partial-sum scratch).</summary>
    internal const int MaxReductionGroups = 1024;

    /// <summary>Terms one thread accumulates, at least, before more groups are launched.</summary>
    private const int TermsPerThread = 8;

    private MemoryBuffer1D<float, Stride1D.Dense>? _partials;
    private Action<AcceleratorStream, KernelConfig, ArrayView1D<float, Stride1D.Dense>, int, float, ArrayView1D<float, Stride1D.Dense>>? _finalSum;
    private int _groupSize;

    /// <summary>Threads per group for explicitly grouped kernels: the largest power of two ≤ 256 the
    /// accelerator allows (256 on GPUs; ILGPU's CPU accelerator allows fewer).</summary>
    internal int GroupSize
    {
        get
        {
            if (_groupSize == 0)
            {
                int size = 1;
                while (size * 2 <= Math.Min(MaxGroupSize, Accelerator.MaxNumThreadsPerGroup)) size *= 2;
                _groupSize = size;
            }
            return _groupSize;
        }
    }

    /// <summary>The partial-sum scratch (allocated once, reused by every reduction: launches on one
    /// stream run in order, so pass 2 of one reduction finishes before pass 1 of the next writes).</summary>
    private ArrayView1D<float, Stride1D.Dense> Partials => (_partials ??= Accelerator.Allocate1D<float>(MaxReductionGroups)).View;

    /// <summary>Groups for pass 1 over <paramref name="items"/> items (each of <paramref name="cost"/> elements).</summary>
    private int ReductionGroups(long items, int cost = 1)
    {
        long threads = Math.Max(1, items * cost / TermsPerThread);
        return (int)Math.Clamp((threads + GroupSize - 1) / GroupSize, 1, MaxReductionGroups);
    }

    /// <summary>Pass 2: <c>result[0] = scale·Σ partials[0..groups)</c>, with one group.</summary>
    private void FinishReduction(int groups, float scale, View<float> result)
    {
        _finalSum ??= Accelerator.LoadKernel<ArrayView1D<float, Stride1D.Dense>, int, float, ArrayView1D<float, Stride1D.Dense>>(FinalSumKernel);
        _finalSum(Launched(), new KernelConfig(1, GroupSize), Partials, groups, scale, result.Ilgpu());
    }

    internal static void FinalSumKernel(ArrayView1D<float, Stride1D.Dense> partials, int count, float scale, ArrayView1D<float, Stride1D.Dense> result)
    {
        float sum = 0;
        for (int i = Group.IdxX; i < count; i += Group.DimX) sum += partials[i];
        sum = GroupSumToFirst(sum);
        if (Group.IsFirstThread) result[0] = scale * sum;
    }

    /// <summary>
    /// Sum of <paramref name="value"/> over the threads of the group, valid in the group's first thread (the others get
    /// partial sums): shuffles add the 32 lanes of each warp (<see cref="WarpSumToFirst"/>), each warp's first lane puts its
    /// sum in one shared slot, and the first warp adds the slots with shuffles again — one barrier before that and one
    /// after (the slots are reused by the next call). Every thread of the group must call it; the group is 1-D.
    /// </summary>
    internal static float GroupSumToFirst(float value)
    {
        var slots = SharedMemory.Allocate<float>(MaxGroupSize);
        value = WarpSumToFirst(value);
        // The warp of a thread of a 1-D group (every caller's): Group.IdxX / 32 as a shift where warps are 32 wide
        // (Warp.WarpIdx divides the 3-D linear index by the warp size at run time: ~20 integer instructions).
        int warp = Warp.WarpSize == 32 ? Group.IdxX >> 5 : Warp.WarpIdx;
        if (Warp.IsFirstLane) slots[warp] = value;
        Group.Barrier();
        float total = 0f;
        if (warp == 0)
        {
            int warps = Warp.WarpSize == 32 ? (Group.DimX + 31) >> 5 : (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
            for (int w = Warp.LaneIdx; w < warps; w += Warp.WarpSize) total += slots[w];
            total = WarpSumToFirst(total);
        }
        Group.Barrier();
        return total;
    }

    /// <summary>What a kernel adds with a float atomic: the value when finite, else +∞. ILGPU's CPU accelerator implements
    /// float atomics as compare-and-swap loops that compare float values, so a NaN in the target spins for ever (NaN ≠ NaN),
    /// and +∞ and −∞ partials would add up to NaN; +∞ is absorbing and still non-finite, which is all a non-finite sum has to
    /// say (the step is skipped). On CUDA the hardware atomics would not spin; the same rule keeps both devices alike.</summary>
    internal static float AtomicSafe(float value) => XMath.IsNaN(value) || XMath.IsInfinity(value) ? float.PositiveInfinity : value;

    /// <summary>Sum over the lanes of the warp, valid in lane 0: log₂(32) = 5 shuffle-down steps written out (ptxas
    /// does not unroll the loop over Warp.WarpSize), no shared memory; other warp widths (OpenCL) take the loop.</summary>
    internal static float WarpSumToFirst(float value)
    {
        if (Warp.WarpSize == 32)
        {
            value += Warp.ShuffleDown(value, 16);
            value += Warp.ShuffleDown(value, 8);
            value += Warp.ShuffleDown(value, 4);
            value += Warp.ShuffleDown(value, 2);
            return value + Warp.ShuffleDown(value, 1);
        }
        for (int delta = Warp.WarpSize / 2; delta > 0; delta >>= 1) value += Warp.ShuffleDown(value, delta);
        return value;
    }
}
