using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>ExcessMTL's state over device memory.</summary>
public readonly struct IlgpuExcessMtlMemory(FloatView risks, FloatView state, FloatView weights) : IExcessMtlMemory
{
    public double Risk(int task) => risks[task];
    public double Get(int index) => state[index];
    public void Set(int index, double value) => state[index] = (float)value;
    public void SetWeight(int task, double value) => weights[task] = (float)value;
}

/// <summary>ExcessMTL on ILGPU: the risk pass as an explicitly grouped kernel (each group one tile of one task row:
/// coalesced reads of g and S, S written in place, the group's Σ g²/√(S + ε) added to <c>risks[row]</c> with one float
/// atomic), then the weight update as a single-thread kernel, the same <see cref="ExcessMtlSolver"/> code (float64) over
/// device memory; no host round-trip. Readable reference: <see cref="ExcessMtlReference"/>. Maths: docs/maths.md §18.18.</summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Elements each thread handles per tile (tile = group size × this).</summary>
    private const int ExcessRiskElementsPerThread = 16;

    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, int, int, int, float, FloatView, int>? _excessRiskKernel;
    private Action<AcceleratorStream, Index1D, IlgpuExcessMtlMemory, int, double>? _excessMtlKernel;

    /// <inheritdoc/>
    public override void ExcessRisks(View<float> taskGradients, int tasks, View<float> squaredSums, View<float> risks, View<float> saved = default)
    {
        CombinationChecks.CheckExcessRisks(this, taskGradients, tasks, squaredSums, risks, saved);
        risks.Ilgpu().MemSetToZero(Launched());
        int length = (int)(taskGradients.Length / tasks);
        if (length == 0) return;
        _excessRiskKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, int, int, int, float, FloatView, int>(ExcessRiskKernel);
        int groupSize = SumOfSquaresGroupSize, tile = groupSize * ExcessRiskElementsPerThread;
        int tilesPerRow = (length + tile - 1) / tile;
        var (savedView, save) = SavedArguments(squaredSums, saved);
        _excessRiskKernel(Launched(), new KernelConfig(checked(tasks * tilesPerRow), groupSize), taskGradients.Ilgpu(), squaredSums.Ilgpu(),
            risks.Ilgpu(), length, tilesPerRow, tile, (float)ExcessMtlSolver.Epsilon, savedView, save);
    }

    /// <inheritdoc/>
    public override void ExcessMtlStep(View<float> risks, View<float> state, double stepSize, View<float> weights)
    {
        CombinationChecks.CheckExcessMtl(this, risks, state, weights, stepSize);
        _excessMtlKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuExcessMtlMemory, int, double>(ExcessMtlKernel);
        _excessMtlKernel(Launched(), 1, new IlgpuExcessMtlMemory(risks.Ilgpu(), state.Ilgpu(), weights.Ilgpu()), (int)risks.Length, stepSize);
    }

    /// <summary>One group: tile <c>Grid.IdxX mod tilesPerRow</c> of task row <c>Grid.IdxX / tilesPerRow</c>; with
    /// <paramref name="save"/> ≠ 0 the old S also goes to <paramref name="saved"/> (the launch passes S itself, never
    /// written, when nothing is saved).</summary>
    private static void ExcessRiskKernel(FloatView gradients, FloatView squaredSums, FloatView risks, int length, int tilesPerRow, int tile, float epsilon,
        FloatView saved, int save)
    {
        int row = Grid.IdxX / tilesPerRow;
        int start = (Grid.IdxX - row * tilesPerRow) * tile, end = XMath.Min(start + tile, length);
        long offset = (long)row * length;
        float sum = 0f;
        for (int k = start + Group.IdxX; k < end; k += Group.DimX)
        {
            float old = squaredSums[offset + k];
            if (save != 0) saved[offset + k] = old;
            float g = gradients[offset + k], g2 = g * g, s = old + g2;
            if (s < float.PositiveInfinity) squaredSums[offset + k] = s;   // NaN and +∞ keep the old sum
            sum += g2 / XMath.Sqrt(s + epsilon);
        }
        sum = GroupSumToFirst(sum);
        // A NaN term is reported as +∞: ILGPU's CPU accelerator implements float atomics as compare-and-swap loops that
        // compare values, and NaN ≠ NaN would spin for ever (as in SumOfSquaresKernel). The solver skips either.
        if (XMath.IsNaN(sum)) sum = float.PositiveInfinity;
        if (Group.IsFirstThread) Atomic.Add(ref risks[row], sum);
    }

    private static void ExcessMtlKernel(Index1D index, IlgpuExcessMtlMemory memory, int count, double stepSize)
    {
        if (index == 0) ExcessMtlSolver.Step(memory, count, stepSize);
    }
}
