using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using DoubleView = ArrayView1D<double, Stride1D.Dense>;

/// <summary><see cref="IMocoScalesMemory"/> over device views (float32 state, float64 arithmetic).</summary>
public readonly struct IlgpuMocoScalesMemory(FloatView squaredNorms, FloatView losses, FloatView weights, FloatView state, FloatView scales)
    : IMocoScalesMemory
{
    public double SquaredNorm(int task) => squaredNorms[task];
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
/// code (float64) over device memory; the tracking pass is one thread per element of the T × P rows, its scales read on
/// the device. No host round-trip. Readable reference: Kernels/Combination/MocoSolver.cs. Maths: docs/maths.md §18.17.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuMocoScalesMemory, int, MocoParameters>? _mocoScalesKernel;
    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, int, int, StreamLayout>? _mocoTrackKernel;
    private Action<AcceleratorStream, Index1D, IlgpuMocoLambdaMemory, int, MocoParameters>? _mocoLambdaKernel;

    private static void MocoScalesKernel(Index1D index, IlgpuMocoScalesMemory memory, int count, MocoParameters parameters)
    {
        if (index == 0) MocoSolver.Scales(memory, count, parameters);
    }

    /// <summary>yᵢ ← s_T·yᵢ + sᵢ·gᵢ for every task row i, streamed as the Gram's rows are: per row, a float4 of y and of g per
    /// iteration of the grid-stride loop (two 128-bit loads, one 128-bit store) when every row starts at the same 16-byte
    /// phase (<see cref="RowLayout"/>), then the row's scalar head and tail.</summary>
    private static void MocoTrackKernel(FloatView tracked, FloatView vectors, FloatView scales, int count, int length, StreamLayout layout)
    {
        float keep = scales[count];
        int stride = GridThreads, scalars = ScalarCount(layout);
        for (int i = 0; i < count; i++)
        {
            float s = scales[i];
            var y = tracked.SubView((long)i * length, length);
            var g = vectors.SubView((long)i * length, length);
            var y4 = Vectors(y, layout);
            var g4 = Vectors(g, layout);
            for (int j = GlobalThread; j < layout.Vectors; j += stride)
            {
                Vec4 a = y4[j], b = g4[j];
                y4[j] = new Vec4(keep * a.X + s * b.X, keep * a.Y + s * b.Y, keep * a.Z + s * b.Z, keep * a.W + s * b.W);
            }
            for (int q = GlobalThread; q < scalars; q += stride)
            {
                int k = ScalarIndex(layout, q);
                y[k] = keep * y[k] + s * g[k];
            }
        }
    }

    private static void MocoLambdaKernel(Index1D index, IlgpuMocoLambdaMemory memory, int count, MocoParameters parameters)
    {
        if (index == 0) MocoSolver.Lambda(memory, count, parameters);
    }

    /// <inheritdoc/>
    public override void MocoScales(View<float> squaredNorms, View<float> losses, View<float> weights, MocoParameters parameters, View<float> state, View<float> scales)
    {
        CombinationChecks.CheckMocoScales(this, squaredNorms, losses, weights, parameters, state, scales);
        bool normalize = parameters.Normalization == MocoSolver.NormalizeByLoss;
        var w = weights.Ilgpu();
        _mocoScalesKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuMocoScalesMemory, int, MocoParameters>(MocoScalesKernel);
        _mocoScalesKernel(Launched(), 1, new IlgpuMocoScalesMemory(normalize ? squaredNorms.Ilgpu() : w, normalize ? losses.Ilgpu() : w, w,
            state.Ilgpu(), scales.Ilgpu()), (int)weights.Length, parameters);
    }

    /// <inheritdoc/>
    public override void MocoTrack(View<float> tracked, View<float> vectors, int count, int length, View<float> scales)
    {
        CombinationChecks.CheckMocoTrack(this, tracked, vectors, count, length, scales);
        if (length == 0) return;
        var layout = RowLayout(vectors, count, length, tracked);
        _mocoTrackKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, int, int, StreamLayout>(MocoTrackKernel);
        _mocoTrackKernel(Launched(), StreamConfig(layout), tracked.Ilgpu(), vectors.Ilgpu(), scales.Ilgpu(), count, length, layout);
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
