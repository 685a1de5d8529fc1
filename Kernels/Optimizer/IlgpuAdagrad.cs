using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Fused Adagrad as a bandwidth-bound streaming kernel, laid out as RMSprop's (<see cref="StreamLayout"/>: float4
/// grid-stride main loop with 128-bit loads and stores, scalar head and tail), reading the skip flag, the clip scale and
/// the step count t (for clr = lr/(1 + (t − 1)·lr_decay)) from the device-side step-control block.
/// Readable reference: <see cref="AdagradReference"/>. Maths: docs/maths.md §13.9.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Per-launch constants of the Adagrad kernel (float32, from the float64 settings). Public only because
    /// ILGPU's CPU accelerator emits kernel arguments into a dynamic assembly that must see the type.</summary>
    public struct AdagradConstants
    {
        public float Epsilon, L2, LearningRate, LearningRateDecay;
    }

    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, FloatView, AdagradConstants, StreamLayout>? _adagradKernel;

    /// <inheritdoc/>
    public override void AdagradStep(View<float> parameters, View<float> gradients, View<float> stateSum, AdagradSettings settings, View<float> control)
    {
        OptimizerChecks.Adagrad(this, parameters, gradients, stateSum, settings, control);
        if (parameters.Length == 0) return;
        var constants = new AdagradConstants
        {
            Epsilon = (float)settings.Epsilon, L2 = (float)settings.WeightDecay,
            LearningRate = (float)settings.LearningRate, LearningRateDecay = (float)settings.LearningRateDecay,
        };
        var layout = StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, stateSum.Offset);
        _adagradKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, FloatView, AdagradConstants, StreamLayout>(AdagradKernel);
        _adagradKernel(Launched(), StreamConfig(layout), parameters.Ilgpu(), gradients.Ilgpu(), stateSum.Ilgpu(), control.Ilgpu(), constants, layout);
    }

    /// <summary>An Adagrad step over a parameter range (see <see cref="Cpu.CpuBackend{T}.AdagradStep"/> for the same maths on
    /// the CPU): float4 main loop over θ, g, s, then the scalar head and tail.</summary>
    private static void AdagradKernel(FloatView p, FloatView grad, FloatView sum, FloatView control, AdagradConstants k, StreamLayout layout)
    {
        if (control[StepControl.Skip] != 0f) return;
        float scale = control[StepControl.GradientScale];
        float t = control[StepControl.StepCount];
        float clr = k.LearningRate / (1f + (t - 1f) * k.LearningRateDecay);   // lr/(1 + (t − 1)·lr_decay)
        var p4 = Vectors(p, layout);
        var g4 = Vectors(grad, layout);
        var s4 = Vectors(sum, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 pj = p4[j], gj = g4[j], sj = s4[j];
            pj.X = AdagradLane(pj.X, gj.X, ref sj.X, scale, clr, k);
            pj.Y = AdagradLane(pj.Y, gj.Y, ref sj.Y, scale, clr, k);
            pj.Z = AdagradLane(pj.Z, gj.Z, ref sj.Z, scale, clr, k);
            pj.W = AdagradLane(pj.W, gj.W, ref sj.W, scale, clr, k);
            p4[j] = pj;
            s4[j] = sj;
        }
        int scalars = ScalarCount(layout);
        for (int s = GlobalThread; s < scalars; s += stride)
        {
            int i = ScalarIndex(layout, s);
            float si = sum[i];
            p[i] = AdagradLane(p[i], grad[i], ref si, scale, clr, k);
            sum[i] = si;
        }
    }

    /// <summary>One parameter's Adagrad update: returns the new θ and updates s.</summary>
    private static float AdagradLane(float theta, float grad, ref float sum, float scale, float clr, AdagradConstants k)
    {
        float g = grad * scale + k.L2 * theta;                   // clip scale; L2 decay
        sum += g * g;                                            // s ← s + g²
        return theta - clr * (g / (XMath.Sqrt(sum) + k.Epsilon)); // θ − clr·g/(√s + ε)
    }
}
