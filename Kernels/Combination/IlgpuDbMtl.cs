using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>DB-MTL's kernels: the log-loss weights and the coefficients as single-thread float64 kernels (T is small), the
/// moving average over every row in column chunks (float4 loads and stores, the scalar head and tail), summing the new
/// rows' squared norms in the same pass (float32 per group, atomics, as the Gram), the rate read from the device-resident
/// step count. Readable reference:
/// <see cref="DbMtlReference"/>. Maths: docs/maths.md §18.15.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, double, FloatView>? _logLossKernel;
    private Action<AcceleratorStream, KernelConfig, FloatView, int, int, FloatView, FloatView, float, float, int, FloatView, FloatView, StreamLayout, FloatView, int>? _dbMtlAverageKernel;
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

    /// <summary>ĝ ← b·ĝ + (1 − b)·wᵢ·g over each row i, b = β/(s + 1)^σ with s = steps[0] (β when σ = 0), and in the same
    /// pass squaredNorms[i] += Σₖ ĝᵢ[k]² of the new values: column chunks per group as <see cref="GramKernel"/>
    /// (<see cref="UpdateChunk"/>), each group's float32 sum added by one atomic per row (<see cref="AddGroupSum"/>).</summary>
    private static void DbMtlAverageKernel(FloatView vectors, int count, int length, FloatView weights, FloatView steps,
        float beta, float betaSigma, int chunk, FloatView average, FloatView squaredNorms, StreamLayout layout, FloatView saved, int save)
    {
        float rate = betaSigma == 0 ? beta : beta / XMath.Pow(steps[0] + 1f, betaSigma);
        for (int i = 0; i < count; i++)
        {
            float c = (1f - rate) * weights[i];
            float squares = UpdateChunk(average.SubView((long)i * length, length), vectors.SubView((long)i * length, length), rate, c, chunk, layout,
                saved.SubView((long)i * length, length), save);
            AddGroupSum(squaredNorms, i, i, squares);
        }
    }

    /// <inheritdoc/>
    public override void DbMtlAverage(View<float> vectors, int count, int length, View<float> weights, View<float> steps, double beta,
        double betaSigma, View<float> average, View<float> squaredNorms, View<float> saved = default)
    {
        CombinationChecks.CheckDbMtlAverage(this, vectors, count, length, weights, steps, beta, betaSigma, average, squaredNorms, saved);
        squaredNorms.Ilgpu().MemSetToZero(Launched());
        if (length == 0) return;
        _dbMtlAverageKernel ??= Accelerator.LoadKernel<FloatView, int, int, FloatView, FloatView, float, float, int, FloatView, FloatView, StreamLayout, FloatView, int>(DbMtlAverageKernel);
        var (config, chunk) = ChunkConfig(length);
        var (layout, savedView, save) = UpdateArguments(vectors, count, length, average, saved);
        _dbMtlAverageKernel(Launched(), config, vectors.Ilgpu(), count, length, weights.Ilgpu(), steps.Ilgpu(),
            (float)beta, (float)betaSigma, chunk, average.Ilgpu(), squaredNorms.Ilgpu(), layout, savedView, save);
    }

    /// <summary>aᵢ = maxⱼ uⱼ/(uᵢ + 1e-8), uᵢ = √squaredNormsᵢ, float64; then steps[0] += 1.</summary>
    private static void DbMtlCoefficientsKernel(Index1D index, FloatView squaredNorms, int count, FloatView steps, FloatView coefficients)
    {
        if (index != 0) return;
        double largest = 0;
        for (int i = 0; i < count; i++) largest = XMath.Max(largest, XMath.Sqrt(XMath.Max((double)squaredNorms[i], 0.0)));
        for (int i = 0; i < count; i++)
            coefficients[i] = (float)(largest / (XMath.Sqrt(XMath.Max((double)squaredNorms[i], 0.0)) + DbMtlReference.Epsilon));
        steps[0] += 1f;
    }

    /// <inheritdoc/>
    public override void DbMtlCoefficients(View<float> squaredNorms, int count, View<float> steps, View<float> coefficients)
    {
        CombinationChecks.CheckDbMtlCoefficients(this, squaredNorms, count, steps, coefficients);
        _dbMtlCoefficientsKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, FloatView, FloatView>(DbMtlCoefficientsKernel);
        _dbMtlCoefficientsKernel(Launched(), 1, squaredNorms.Ilgpu(), count, steps.Ilgpu(), coefficients.Ilgpu());
    }
}
