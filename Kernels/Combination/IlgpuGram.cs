using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

public sealed partial class IlgpuBackend
{
    /// <summary>Threads per group of the Gram kernel.</summary>
    private const int GramGroupSize = 256;
    /// <summary>Columns each thread visits per group chunk: a group owns GramGroupSize·GramColumnsPerThread columns.</summary>
    private const int GramColumnsPerThread = 16;

    private Action<AcceleratorStream, KernelConfig, FloatView, int, int, int, FloatView>? _gramKernel;
    private Action<AcceleratorStream, Index1D, FloatView, int, int, FloatView, FloatView, int>? _linearCombinationKernel;

    /// <summary>
    /// Explicitly grouped Gram kernel. Group b owns the column chunk [b·chunk, (b+1)·chunk) of all T rows. For each pair
    /// (i ≤ j) every thread sums vᵢ[k]·vⱼ[k] over its strided columns of the chunk, the group reduces the partial sums in
    /// shared memory (ILGPU.Algorithms' GroupExtensions.Reduce) and its first thread atomically adds the group's sum into
    /// gram[i, j] and gram[j, i]. The chunk (T × chunk floats) is reused across pairs from L1/L2, so global memory is read
    /// about once. Loop bounds are uniform across the group, so every thread reaches every reduction.
    /// </summary>
    private static void GramKernel(FloatView vectors, int count, int length, int chunk, FloatView gram)
    {
        int start = Grid.IdxX * chunk;
        int end = start + chunk < length ? start + chunk : length;
        for (int i = 0; i < count; i++)
        {
            for (int j = i; j < count; j++)
            {
                float partial = 0;
                for (int k = start + Group.IdxX; k < end; k += Group.DimX)
                    partial += vectors[i * length + k] * vectors[j * length + k];
                float sum = GroupExtensions.Reduce<float, AddFloat>(partial);
                if (Group.IsFirstThread)
                {
                    Atomic.Add(ref gram[i * count + j], sum);
                    if (i != j) Atomic.Add(ref gram[j * count + i], sum);
                }
                Group.Barrier();
            }
        }
    }

    /// <inheritdoc/>
    public override void Gram(View<float> vectors, int count, int length, View<float> gram)
    {
        CombinationChecks.CheckGram(this, vectors, count, length, gram);
        gram.Ilgpu().MemSetToZero(Stream);
        if (length == 0) return;
        _gramKernel ??= Accelerator.LoadKernel<FloatView, int, int, int, FloatView>(GramKernel);
        int groupSize = Math.Min(GramGroupSize, Accelerator.MaxNumThreadsPerGroup);
        int chunk = groupSize * GramColumnsPerThread;
        int groups = (length + chunk - 1) / chunk;
        _gramKernel(Stream, new KernelConfig(groups, groupSize), vectors.Ilgpu(), count, length, chunk, gram.Ilgpu());
    }

    /// <summary>One thread per column k: <c>output[k] = (accumulate ? output[k] : 0) + Σᵢ aᵢ·vᵢ[k]</c>.</summary>
    private static void LinearCombinationKernel(Index1D k, FloatView vectors, int count, int length,
        FloatView coefficients, FloatView output, int accumulate)
    {
        float sum = accumulate != 0 ? output[k] : 0f;
        for (int i = 0; i < count; i++) sum += coefficients[i] * vectors[i * length + k];
        output[k] = sum;
    }

    /// <inheritdoc/>
    public override void LinearCombination(View<float> vectors, int count, int length, View<float> coefficients, View<float> output, bool accumulate)
    {
        CombinationChecks.CheckLinearCombination(this, vectors, count, length, coefficients, output);
        if (length == 0) return;
        _linearCombinationKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, int, FloatView, FloatView, int>(LinearCombinationKernel);
        _linearCombinationKernel(Stream, length, vectors.Ilgpu(), count, length, coefficients.Ilgpu(), output.Ilgpu(), accumulate ? 1 : 0);
    }
}
