using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>DB-MTL's kernels: the log-loss weights and the coefficients as single-thread float64 kernels (T is small), the
/// moving average streamed over every row (<see cref="StreamLayout"/>: float4 loads and stores in a grid-stride loop, the
/// scalar head and tail), the rate read from the device-resident step count. Readable reference:
/// <see cref="DbMtlReference"/>. Maths: docs/maths.md §18.15.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, double, FloatView>? _logLossKernel;
    private Action<AcceleratorStream, KernelConfig, FloatView, int, int, FloatView, FloatView, float, float, FloatView, StreamLayout>? _dbMtlAverageKernel;
    private Action<AcceleratorStream, Index1D, FloatView, int, FloatView, FloatView>? _dbMtlCoefficientsKernel;

    /// <summary>wᵢ = 1/(Lᵢ + ε), float64.</summary>
    private static void LogLossKernel(Index1D index, FloatView losses, double epsilon, FloatView weights)
    {
        if (index != 0) return;
        for (int i = 0; i < (int)losses.Length; i++) weights[i] = (float)(1 / ((double)losses[i] + epsilon));
    }

    /// <inheritdoc/>
    public override void LogLossWeights(View<float> losses, double epsilon, View<float> weights)
    {
        CombinationChecks.CheckLogLoss(this, losses, epsilon, weights);
        _logLossKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, double, FloatView>(LogLossKernel);
        _logLossKernel(Launched(), 1, losses.Ilgpu(), epsilon, weights.Ilgpu());
    }

    /// <summary>ĝ ← b·ĝ + (1 − b)·wᵢ·g over each row i, b = β/(s + 1)^σ with s = steps[0] (β when σ = 0).</summary>
    private static void DbMtlAverageKernel(FloatView vectors, int count, int length, FloatView weights, FloatView steps,
        float beta, float betaSigma, FloatView average, StreamLayout layout)
    {
        float rate = betaSigma == 0 ? beta : beta / XMath.Pow(steps[0] + 1f, betaSigma);
        int stride = GridThreads, scalars = ScalarCount(layout);
        for (int i = 0; i < count; i++)
        {
            float c = (1f - rate) * weights[i];
            var g = vectors.SubView((long)i * length, length);
            var m = average.SubView((long)i * length, length);
            var g4 = Vectors(g, layout);
            var m4 = Vectors(m, layout);
            for (int j = GlobalThread; j < layout.Vectors; j += stride)
            {
                Vec4 a = m4[j], x = g4[j];
                m4[j] = new Vec4(rate * a.X + c * x.X, rate * a.Y + c * x.Y, rate * a.Z + c * x.Z, rate * a.W + c * x.W);
            }
            for (int t = GlobalThread; t < scalars; t += stride)
            {
                int k = ScalarIndex(layout, t);
                m[k] = rate * m[k] + c * g[k];
            }
        }
    }

    /// <inheritdoc/>
    public override void DbMtlAverage(View<float> vectors, int count, int length, View<float> weights, View<float> steps, double beta,
        double betaSigma, View<float> average)
    {
        CombinationChecks.CheckDbMtlAverage(this, vectors, count, length, weights, steps, beta, betaSigma, average);
        if (length == 0) return;
        _dbMtlAverageKernel ??= Accelerator.LoadKernel<FloatView, int, int, FloatView, FloatView, float, float, FloatView, StreamLayout>(DbMtlAverageKernel);
        var layout = RowLayout(vectors, count, length, average);
        _dbMtlAverageKernel(Launched(), StreamConfig(layout), vectors.Ilgpu(), count, length, weights.Ilgpu(), steps.Ilgpu(),
            (float)beta, (float)betaSigma, average.Ilgpu(), layout);
    }

    /// <summary>aᵢ = maxⱼ √Gⱼⱼ/(√Gᵢᵢ + 1e-8), float64; then steps[0] += 1.</summary>
    private static void DbMtlCoefficientsKernel(Index1D index, FloatView gram, int count, FloatView steps, FloatView coefficients)
    {
        if (index != 0) return;
        double largest = 0;
        for (int i = 0; i < count; i++) largest = XMath.Max(largest, XMath.Sqrt(XMath.Max((double)gram[i * count + i], 0.0)));
        for (int i = 0; i < count; i++)
            coefficients[i] = (float)(largest / (XMath.Sqrt(XMath.Max((double)gram[i * count + i], 0.0)) + DbMtlReference.Epsilon));
        steps[0] += 1f;
    }

    /// <inheritdoc/>
    public override void DbMtlCoefficients(View<float> gram, int count, View<float> steps, View<float> coefficients)
    {
        CombinationChecks.CheckDbMtlCoefficients(this, gram, count, steps, coefficients);
        _dbMtlCoefficientsKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, FloatView, FloatView>(DbMtlCoefficientsKernel);
        _dbMtlCoefficientsKernel(Launched(), 1, gram.Ilgpu(), count, steps.Ilgpu(), coefficients.Ilgpu());
    }
}
