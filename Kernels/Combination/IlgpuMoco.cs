using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using DoubleView = ArrayView1D<double, Stride1D.Dense>;

/// <summary><see cref="IMocoScalesMemory"/> over device views (float32 state, float64 arithmetic); ‖gᵢ‖² from the Gram
/// matrix's diagonal (stride T + 1).</summary>
public readonly struct IlgpuMocoScalesMemory(FloatView gram, int diagonalStride, FloatView losses, FloatView weights, FloatView state, FloatView scales)
    : IMocoScalesMemory
{
    public double SquaredNorm(int task) => gram[(long)task * diagonalStride];
    public double Loss(int task) => losses[task];
    public double Weight(int task) => weights[task];
    public double Get(int index) => state[index];
    public void Set(int index, double value) => state[index] = (float)value;
    public void SetScale(int index, double value) => scales[index] = (float)value;
}

/// <summary><see cref="IMocoLambdaMemory"/> over device views.</summary>
public readonly struct IlgpuMocoLambdaMemory(FloatView gram, FloatView state, DoubleView work, FloatView coefficients) : IMocoLambdaMemory
{
    public double Gram(int index) => gram[index];
    public double Get(int index) => state[index];
    public void Set(int index, double value) => state[index] = (float)value;
    public double Work(int index) => work[index];
    public void SetWork(int index, double value) => work[index] = value;
    public void SetCoefficient(int task, double value) => coefficients[task] = (float)value;
}

/// <summary>MoCo as ILGPU kernels: the two T-sized parts are single-thread kernels running the same <see cref="MocoSolver"/>
/// code (float64) over device memory; the tracking pass streams the T × P rows in column chunks and sums the Gram matrix of
/// the updated rows in the same pass (float32 per group, atomics, as <see cref="GramKernel"/>), its scales read on the
/// device. No host round-trip. Readable references: <see cref="MocoSolver"/>, <see cref="MocoReference"/>. Maths:
/// docs/maths.md §18.17.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuMocoScalesMemory, int, MocoParameters>? _mocoScalesKernel;
    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, int, int, int, FloatView, StreamLayout, FloatView, int>? _mocoTrackKernel;
    private Action<AcceleratorStream, Index1D, IlgpuMocoLambdaMemory, int, MocoParameters>? _mocoLambdaKernel;

    private static void MocoScalesKernel(Index1D index, IlgpuMocoScalesMemory memory, int count, MocoParameters parameters)
    {
        if (index == 0) MocoSolver.Scales(memory, count, parameters);
    }

    /// <summary>
    /// yᵢ ← s_T·yᵢ + sᵢ·gᵢ for every task row i and, in the same pass, gram[i, j] += Σₖ yᵢ[k]·yⱼ[k] over the new rows:
    /// grouped as <see cref="GramKernel"/> (group b owns the column chunk [b·chunk, (b+1)·chunk) of all T rows, float4
    /// when the rows share a 16-byte phase, the scalar head and tail in group 0). Each thread updates its columns of row i
    /// (<see cref="UpdateChunk"/>: one read of y and g, one write of y) and sums the new squares, then the products with
    /// the rows j &lt; i on the same columns — values it wrote itself, now in L1/L2; per pair the group's float32 sum goes
    /// into gram[i, j] and gram[j, i] by one atomic each (<see cref="AddGroupSum"/>, the Gram's reduction). With
    /// <paramref name="save"/> ≠ 0 the old rows also go to <paramref name="saved"/>.
    /// </summary>
    private static void MocoTrackKernel(FloatView tracked, FloatView vectors, FloatView scales, int count, int length, int chunk,
        FloatView gram, StreamLayout layout, FloatView saved, int save)
    {
        float keep = scales[count];
        for (int i = 0; i < count; i++)
        {
            var yi = tracked.SubView((long)i * length, length);
            float squares = UpdateChunk(yi, vectors.SubView((long)i * length, length), keep, scales[i], chunk, layout,
                saved.SubView((long)i * length, length), save);
            for (int j = 0; j <= i; j++) // one call site of the reduction: one shared-memory slot array
                AddGroupSum(gram, i * count + j, j * count + i, j == i ? squares : ChunkDot(yi, tracked.SubView((long)j * length, length), chunk, layout));
        }
    }

    private static void MocoLambdaKernel(Index1D index, IlgpuMocoLambdaMemory memory, int count, MocoParameters parameters)
    {
        if (index == 0) MocoSolver.Lambda(memory, count, parameters);
    }

    /// <inheritdoc/>
    public override void MocoScales(View<float> gram, View<float> losses, View<float> weights, MocoParameters parameters, View<float> state, View<float> scales)
    {
        CombinationChecks.CheckMocoScales(this, gram, losses, weights, parameters, state, scales);
        bool normalize = parameters.Normalization == MocoSolver.NormalizeByLoss;
        var w = weights.Ilgpu();
        _mocoScalesKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuMocoScalesMemory, int, MocoParameters>(MocoScalesKernel);
        _mocoScalesKernel(Launched(), 1, new IlgpuMocoScalesMemory(normalize ? gram.Ilgpu() : w, normalize ? (int)weights.Length + 1 : 0, normalize ? losses.Ilgpu() : w, w,
            state.Ilgpu(), scales.Ilgpu()), (int)weights.Length, parameters);
    }

    /// <inheritdoc/>
    public override void MocoTrack(View<float> tracked, View<float> vectors, int count, int length, View<float> scales, View<float> gram,
        View<float> saved = default)
    {
        CombinationChecks.CheckMocoTrack(this, tracked, vectors, count, length, scales, gram, saved);
        gram.Ilgpu().MemSetToZero(Launched());
        if (length == 0) return;
        _mocoTrackKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, int, int, int, FloatView, StreamLayout, FloatView, int>(MocoTrackKernel);
        var (config, chunk) = ChunkConfig(length);
        var (layout, savedView, save) = UpdateArguments(vectors, count, length, tracked, saved);
        _mocoTrackKernel(Launched(), config, tracked.Ilgpu(), vectors.Ilgpu(), scales.Ilgpu(), count, length, chunk, gram.Ilgpu(),
            layout, savedView, save);
    }

    /// <inheritdoc/>
    public override void MocoLambda(View<float> gram, int count, MocoParameters parameters, View<float> state, View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckMocoLambda(this, gram, count, parameters, state, workspace, coefficients);
        _mocoLambdaKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuMocoLambdaMemory, int, MocoParameters>(MocoLambdaKernel);
        _mocoLambdaKernel(Launched(), 1, new IlgpuMocoLambdaMemory(gram.Ilgpu(), state.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu()),
            count, parameters);
    }
}
