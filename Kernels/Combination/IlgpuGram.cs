using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

public sealed partial class IlgpuBackend
{
    /// <summary>Threads per group of the Gram kernel.</summary>
    private const int GramGroupSize = 256;
    /// <summary>Columns each thread visits per group chunk: a group owns GramGroupSize·GramColumnsPerThread columns.</summary>
    private const int GramColumnsPerThread = 16;

    private Action<AcceleratorStream, KernelConfig, FloatView, int, int, int, FloatView, StreamLayout>? _gramKernel;
    private Action<AcceleratorStream, KernelConfig, FloatView, int, int, FloatView, FloatView, int, StreamLayout>? _linearCombinationKernel;

    /// <summary>The float4 layout of one row of a [count × length] block: the 128-bit path needs every row (and
    /// <paramref name="output"/>, when given) at the same 16-byte phase, i.e. length a multiple of 4 when count &gt; 1.</summary>
    private static StreamLayout RowLayout(View<float> vectors, int count, int length, View<float> output = default)
    {
        int phase = vectors.Offset & 3;
        bool same = (count <= 1 || (length & 3) == 0) && (output.IsEmpty || (output.Offset & 3) == phase);
        return same ? StreamLayout.Of(length, vectors.Offset) : new StreamLayout(0, 0, length);
    }

    /// <summary>
    /// Explicitly grouped Gram kernel. Group b owns the column chunk [b·chunk, (b+1)·chunk) of all T rows. For each pair
    /// (i ≤ j) every thread sums vᵢ[k]·vⱼ[k] over its strided columns of the chunk — as float4 (128-bit loads, 4 FFMA
    /// each) when every row starts at the same 16-byte phase (<paramref name="layout"/>, over one row of
    /// <paramref name="length"/>), else as scalars — the group reduces the partial sums (ILGPU.Algorithms'
    /// `GroupSumToFirst`: warp shuffles, then one shared slot per warp — not ILGPU.Algorithms' `GroupExtensions.Reduce`, whose
    /// CPU-accelerator version spins for ever on a NaN) and its first thread atomically adds
    /// the group's sum into gram[i, j] and gram[j, i] (a non-finite sum as +∞: <see cref="AtomicSafe"/>). The chunk (T × chunk floats) is reused across pairs from L1/L2, so
    /// global memory is read about once. Loop bounds are uniform across the group, so every thread reaches every reduction.
    /// </summary>
    private static void GramKernel(FloatView vectors, int count, int length, int chunk, FloatView gram, StreamLayout layout)
    {
        int start = Grid.IdxX * chunk;
        int end = start + chunk < length ? start + chunk : length;
        // The chunk's float4 (chunk is a multiple of 4): [start/4, end/4) of the row's vectors, within layout.Vectors.
        int vStart = start >> 2, vEnd = XMath.Min(end >> 2, layout.Vectors);
        int scalars = ScalarCount(layout);
        for (int i = 0; i < count; i++)
        {
            var vi = Vectors(vectors.SubView((long)i * length, length), layout);
            for (int j = i; j < count; j++)
            {
                var vj = Vectors(vectors.SubView((long)j * length, length), layout);
                float partial = 0;
                for (int k = vStart + Group.IdxX; k < vEnd; k += Group.DimX)
                {
                    Vec4 a = vi[k], b = vj[k];
                    partial += a.X * b.X + a.Y * b.Y + a.Z * b.Z + a.W * b.W;
                }
                if (layout.Vectors == 0) // rows at different phases: the chunk as scalars
                    for (int k = start + Group.IdxX; k < end; k += Group.DimX)
                        partial += vectors[i * length + k] * vectors[j * length + k];
                else if (Grid.IdxX == 0) // the scalar head and tail, once
                    for (int t = Group.IdxX; t < scalars; t += Group.DimX)
                    {
                        int k = ScalarIndex(layout, t);
                        partial += vectors[i * length + k] * vectors[j * length + k];
                    }
                float sum = AtomicSafe(GroupSumToFirst(partial)); // valid in the first thread; a non-finite pair sum as +∞
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
        gram.Ilgpu().MemSetToZero(Launched());
        if (length == 0) return;
        _gramKernel ??= Accelerator.LoadKernel<FloatView, int, int, int, FloatView, StreamLayout>(GramKernel);
        int groupSize = Math.Min(GramGroupSize, Accelerator.MaxNumThreadsPerGroup);
        int chunk = groupSize * GramColumnsPerThread;
        int groups = (length + chunk - 1) / chunk;
        var layout = RowLayout(vectors, count, length);
        _gramKernel(Launched(), new KernelConfig(groups, groupSize), vectors.Ilgpu(), count, length, chunk, gram.Ilgpu(), layout);
    }

    /// <summary><c>output[k] = (accumulate ? output[k] : 0) + Σᵢ aᵢ·vᵢ[k]</c>, streamed: a float4 of output per iteration
    /// of the grid-stride loop (T 128-bit loads of the rows, one 128-bit store), then the scalar head and tail.</summary>
    private static void LinearCombinationKernel(FloatView vectors, int count, int length,
        FloatView coefficients, FloatView output, int accumulate, StreamLayout layout)
    {
        var o4 = Vectors(output, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 sum = accumulate != 0 ? o4[j] : default;
            for (int i = 0; i < count; i++)
                sum.MultiplyAdd(coefficients[i], Vectors(vectors.SubView((long)i * length, length), layout)[j]);
            o4[j] = sum;
        }
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int k = ScalarIndex(layout, t);
            float sum = accumulate != 0 ? output[k] : 0f;
            for (int i = 0; i < count; i++) sum += coefficients[i] * vectors[i * length + k];
            output[k] = sum;
        }
    }

    /// <inheritdoc/>
    public override void LinearCombination(View<float> vectors, int count, int length, View<float> coefficients, View<float> output, bool accumulate)
    {
        CombinationChecks.CheckLinearCombination(this, vectors, count, length, coefficients, output);
        if (length == 0) return;
        _linearCombinationKernel ??= Accelerator.LoadKernel<FloatView, int, int, FloatView, FloatView, int, StreamLayout>(LinearCombinationKernel);
        var layout = RowLayout(vectors, count, length, output);
        _linearCombinationKernel(Launched(), StreamConfig(layout), vectors.Ilgpu(), count, length, coefficients.Ilgpu(), output.Ilgpu(),
            accumulate ? 1 : 0, layout);
    }
}
