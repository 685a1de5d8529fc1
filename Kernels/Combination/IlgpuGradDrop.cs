using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using DoubleView = ArrayView1D<double, Stride1D.Dense>;

/// <summary>GradDrop as one thread per coordinate (the task loop inside, float32, the same order of operations as the
/// CPU path). Readable reference: <c>GradDropScalar</c> in Kernels/Combination/CpuGradDrop.cs. Maths: docs/maths.md §18.5.</summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, FloatView, int, int, FloatView, float, ulong, DoubleView, FloatView>? _gradDropKernel;

    /// <summary>Coordinate k: P = ½(1 + Σhᵢ/Σ|hᵢ|), hᵢ = wᵢgᵢₖ; keep the sign P picks against U; leak the rest. The step
    /// index is steps[0], read by every coordinate; coordinate 0 writes the next one to steps[1] (no one reads it here).</summary>
    private static void GradDropKernel(Index1D k, FloatView vectors, int count, int length, FloatView weights, float leak,
        ulong seed, DoubleView steps, FloatView output)
    {
        double s = steps[0];
        long step = (long)s;
        if (k == 0) steps[1] = s + 1;
        if (k >= length) return;   // length 0: one thread, to count the step
        float sum = 0f, abs = 0f;
        for (int i = 0; i < count; i++)
        {
            float h = weights[i] * vectors[(long)i * length + k];
            sum += h;
            abs += Math.Abs(h);
        }
        float purity = abs > 0f ? 0.5f * (1f + sum / abs) : 0.5f;
        float u = CounterRandom.UniformSingle(seed, step, k), total = 0f;
        for (int i = 0; i < count; i++)
        {
            float h = weights[i] * vectors[(long)i * length + k];
            bool kept = (purity > u && h > 0f) || (purity < u && h < 0f);
            total += h * (kept ? 1f : leak);
        }
        output[k] = total;
    }

    /// <inheritdoc/>
    public override void GradDrop(View<float> vectors, int count, int length, View<float> weights, float leak, ulong seed, View<double> steps, View<float> output)
    {
        CombinationChecks.CheckGradDrop(this, vectors, count, length, weights, leak, steps, output);
        _gradDropKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, int, FloatView, float, ulong, DoubleView, FloatView>(GradDropKernel);
        _gradDropKernel(Stream, Math.Max(length, 1), vectors.Ilgpu(), count, length, weights.Ilgpu(), leak, seed, steps.Ilgpu(), output.Ilgpu());
    }
}
