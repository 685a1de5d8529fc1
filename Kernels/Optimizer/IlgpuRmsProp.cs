using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Fused RMSprop as a bandwidth-bound streaming kernel, laid out as Adam's and SGD's (<see cref="StreamLayout"/>: float4
/// grid-stride main loop with 128-bit loads and stores, scalar head and tail), reading the skip flag and the clip scale
/// from the device-side step-control block. Centered and momentum are uniform flags (one kernel; a buffer that is off is
/// neither loaded nor stored). Readable reference: <see cref="RmsPropReference"/>. Maths: docs/maths.md §13.8.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Per-launch constants of the RMSprop kernel (float32, from the float64 settings). Public only because
    /// ILGPU's CPU accelerator emits kernel arguments into a dynamic assembly that must see the type.</summary>
    public struct RmsPropConstants
    {
        public float Alpha, OneMinusAlpha, Epsilon, L2, LearningRate, Momentum;
        public int Centered, HasMomentum;
    }

    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, FloatView, FloatView, FloatView, RmsPropConstants, StreamLayout>? _rmsPropKernel;

    /// <inheritdoc/>
    public override void RmsPropStep(View<float> parameters, View<float> gradients, View<float> squareAverage, View<float> gradientAverage,
        View<float> momentumBuffer, RmsPropSettings settings, View<float> control)
    {
        OptimizerChecks.RmsProp(this, parameters, gradients, squareAverage, gradientAverage, momentumBuffer, settings, control);
        if (parameters.Length == 0) return;
        bool momentum = settings.Momentum != 0;
        var constants = new RmsPropConstants
        {
            Alpha = (float)settings.Alpha, OneMinusAlpha = (float)(1 - settings.Alpha), Epsilon = (float)settings.Epsilon,
            L2 = (float)settings.WeightDecay, LearningRate = (float)settings.LearningRate, Momentum = (float)settings.Momentum,
            Centered = settings.Centered ? 1 : 0, HasMomentum = momentum ? 1 : 0,
        };
        var layout = (settings.Centered, momentum) switch
        {
            (true, true) => StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, squareAverage.Offset, gradientAverage.Offset, momentumBuffer.Offset),
            (true, false) => StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, squareAverage.Offset, gradientAverage.Offset),
            (false, true) => StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, squareAverage.Offset, momentumBuffer.Offset),
            _ => StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, squareAverage.Offset),
        };
        _rmsPropKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, FloatView, FloatView, FloatView, RmsPropConstants, StreamLayout>(RmsPropKernel);
        var v = squareAverage.Ilgpu();
        // A buffer that is off is never touched: hand the kernel v so that no empty view reaches the launcher.
        _rmsPropKernel(Launched(), StreamConfig(layout), parameters.Ilgpu(), gradients.Ilgpu(), v,
            settings.Centered ? gradientAverage.Ilgpu() : v, momentum ? momentumBuffer.Ilgpu() : v, control.Ilgpu(), constants, layout);
    }

    /// <summary>An RMSprop step over a parameter range (see <see cref="Cpu.CpuBackend{T}.RmsPropStep"/> for the same maths on
    /// the CPU): float4 main loop over θ, g, v (ḡ, buf), then the scalar head and tail.</summary>
    private static void RmsPropKernel(FloatView p, FloatView grad, FloatView v, FloatView mean, FloatView buffer,
        FloatView control, RmsPropConstants k, StreamLayout layout)
    {
        if (control[StepControl.Skip] != 0f) return;
        float scale = control[StepControl.GradientScale];
        var p4 = Vectors(p, layout);
        var g4 = Vectors(grad, layout);
        var v4 = Vectors(v, layout);
        var a4 = Vectors(mean, layout);
        var b4 = Vectors(buffer, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 pj = p4[j], gj = g4[j], vj = v4[j];
            Vec4 aj = k.Centered != 0 ? a4[j] : default, bj = k.HasMomentum != 0 ? b4[j] : default;
            pj.X = RmsPropLane(pj.X, gj.X, ref vj.X, ref aj.X, ref bj.X, scale, k);
            pj.Y = RmsPropLane(pj.Y, gj.Y, ref vj.Y, ref aj.Y, ref bj.Y, scale, k);
            pj.Z = RmsPropLane(pj.Z, gj.Z, ref vj.Z, ref aj.Z, ref bj.Z, scale, k);
            pj.W = RmsPropLane(pj.W, gj.W, ref vj.W, ref aj.W, ref bj.W, scale, k);
            p4[j] = pj;
            v4[j] = vj;
            if (k.Centered != 0) a4[j] = aj;
            if (k.HasMomentum != 0) b4[j] = bj;
        }
        int scalars = ScalarCount(layout);
        for (int s = GlobalThread; s < scalars; s += stride)
        {
            int i = ScalarIndex(layout, s);
            float vi = v[i], ai = k.Centered != 0 ? mean[i] : 0f, bi = k.HasMomentum != 0 ? buffer[i] : 0f;
            p[i] = RmsPropLane(p[i], grad[i], ref vi, ref ai, ref bi, scale, k);
            v[i] = vi;
            if (k.Centered != 0) mean[i] = ai;
            if (k.HasMomentum != 0) buffer[i] = bi;
        }
    }

    /// <summary>One parameter's RMSprop update: returns the new θ and updates v, ḡ (centered) and buf (momentum).</summary>
    private static float RmsPropLane(float theta, float grad, ref float v, ref float mean, ref float buf, float scale, RmsPropConstants k)
    {
        float g = grad * scale + k.L2 * theta;                 // clip scale; L2 decay
        v = k.Alpha * v + k.OneMinusAlpha * (g * g);
        float centered = v;
        if (k.Centered != 0)
        {
            mean = k.Alpha * mean + k.OneMinusAlpha * g;
            centered = v - mean * mean;
        }
        float step = g / (XMath.Sqrt(centered) + k.Epsilon);   // g/(√(v [− ḡ²]) + ε)
        if (k.HasMomentum != 0)
        {
            buf = k.Momentum * buf + step;
            step = buf;
        }
        return theta - k.LearningRate * step;
    }
}
