using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Engine.Kernels.Cpu;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Fused Adam/AdamW and SGD as implicitly grouped ILGPU kernels: one thread per parameter, no shared
/// memory. Each thread reads the step-control block (skip flag, gradient scale, step count t) from
/// device memory, so clipping and the non-finite guard cost no host round-trip and no extra pass.
/// The bias corrections 1 − βᵗ are computed per thread from the device-side t (a short series or one
/// exp each: cheap next to the 28 bytes each thread moves), see <see cref="OneMinusPower"/>. Maths: docs/maths.md §13.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Per-launch constants of the Adam kernel (float32, derived in float64 on the host). Public only
    /// because ILGPU's CPU accelerator emits kernel arguments into a dynamic assembly that must see the type.</summary>
    public struct AdamConstants
    {
        public float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, LearningRate, Epsilon, L2, DecayFactor, LogBeta1, LogBeta2;
        public int BiasCorrection, AmsGrad;
    }

    /// <summary>Per-launch constants of the SGD kernel.</summary>
    public struct SgdConstants
    {
        public float LearningRate, Momentum, OneMinusDampening, L2;
        public int HasMomentum, Nesterov;
    }

    private Action<AcceleratorStream, Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, AdamConstants>? _adamKernel;

    private Action<AcceleratorStream, Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
        ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, SgdConstants>? _sgdKernel;

    /// <inheritdoc/>
    public override void AdamStep(View<float> parameters, View<float> gradients, View<float> m, View<float> v, View<float> vMax,
        AdamSettings settings, View<float> control)
    {
        OptimizerChecks.Adam(this, parameters, gradients, m, v, vMax, settings, control);
        if (parameters.Length == 0) return;
        double lr = settings.LearningRate, lambda = settings.WeightDecay;
        var constants = new AdamConstants
        {
            Beta1 = (float)settings.Beta1, OneMinusBeta1 = (float)(1 - settings.Beta1),
            Beta2 = (float)settings.Beta2, OneMinusBeta2 = (float)(1 - settings.Beta2),
            LearningRate = (float)lr, Epsilon = (float)settings.Epsilon,
            L2 = (float)(settings.Decoupled ? 0 : lambda),
            DecayFactor = (float)(settings.Decoupled ? 1 - lr * lambda : 1),
            LogBeta1 = (float)Math.Log(settings.Beta1), LogBeta2 = (float)Math.Log(settings.Beta2),
            BiasCorrection = settings.BiasCorrection ? 1 : 0, AmsGrad = settings.AmsGrad ? 1 : 0,
        };
        _adamKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, AdamConstants>(AdamKernel);
        var mView = m.Ilgpu();
        // Without AMSGrad the kernel never touches vMax: hand it m so that no empty view reaches the launcher.
        _adamKernel(Stream, parameters.Length, parameters.Ilgpu(), gradients.Ilgpu(), mView, v.Ilgpu(),
            settings.AmsGrad ? vMax.Ilgpu() : mView, control.Ilgpu(), constants);
    }

    /// <inheritdoc/>
    public override void SgdStep(View<float> parameters, View<float> gradients, View<float> momentumBuffer,
        SgdSettings settings, View<float> control)
    {
        OptimizerChecks.Sgd(this, parameters, gradients, momentumBuffer, settings, control);
        if (parameters.Length == 0) return;
        var constants = new SgdConstants
        {
            LearningRate = (float)settings.LearningRate, Momentum = (float)settings.Momentum,
            OneMinusDampening = (float)(1 - settings.Dampening), L2 = (float)settings.WeightDecay,
            HasMomentum = settings.Momentum != 0 ? 1 : 0, Nesterov = settings.Nesterov ? 1 : 0,
        };
        _sgdKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>,
            ArrayView1D<float, Stride1D.Dense>, ArrayView1D<float, Stride1D.Dense>, SgdConstants>(SgdKernel);
        var g = gradients.Ilgpu();
        // Without momentum the kernel never touches the buffer: hand it g so that no empty view reaches the launcher.
        _sgdKernel(Stream, parameters.Length, parameters.Ilgpu(), g, settings.Momentum != 0 ? momentumBuffer.Ilgpu() : g,
            control.Ilgpu(), constants);
    }

    /// <summary>One parameter of a fused Adam/AdamW step (see <see cref="CpuBackend{T}.AdamStep"/> for the same maths on the CPU).</summary>
    private static void AdamKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> p, ArrayView1D<float, Stride1D.Dense> grad,
        ArrayView1D<float, Stride1D.Dense> m, ArrayView1D<float, Stride1D.Dense> v, ArrayView1D<float, Stride1D.Dense> vMax,
        ArrayView1D<float, Stride1D.Dense> control, AdamConstants k)
    {
        if (control[StepControl.Skip] != 0f) return;
        float t = control[StepControl.StepCount];
        float bc1 = 1f, bc2 = 1f;
        if (k.BiasCorrection != 0)
        {
            bc1 = OneMinusPower(k.LogBeta1, t);
            bc2 = OneMinusPower(k.LogBeta2, t);
        }
        float theta = p[i] * k.DecayFactor;                                   // AdamW: θ(1 − lr·λ)
        float g = grad[i] * control[StepControl.GradientScale] + k.L2 * theta; // clip scale; Adam: + λθ
        float mi = k.Beta1 * m[i] + k.OneMinusBeta1 * g;
        float vi = k.Beta2 * v[i] + k.OneMinusBeta2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        if (k.AmsGrad != 0)
        {
            vi = XMath.Max(vMax[i], vi);
            vMax[i] = vi;
        }
        float denominator = XMath.Sqrt(vi) / XMath.Sqrt(bc2) + k.Epsilon;
        p[i] = theta - k.LearningRate / bc1 * mi / denominator;
    }

    /// <summary>
    /// 1 − βᵗ = −expm1(t·ln β), accurate in float32 even when βᵗ is close to 1 (β₂ = 0.999, small t), where
    /// <c>1 − pow(β, t)</c> would lose about four digits to cancellation. ln β comes from the host in float64.
    /// For |x| &lt; 0.1 a Taylor series of expm1 to x⁵ (absolute error about |x|⁶/720, so below |x|⁵/720 ≤ 1.4·10⁻⁸ relative), else 1 − eˣ (≥ 0.095, no real cancellation).
    /// </summary>
    private static float OneMinusPower(float logBeta, float t)
    {
        float x = t * logBeta;
        if (x > -0.1f)
            return -x * (1f + x * (0.5f + x * (1f / 6f + x * (1f / 24f + x * (1f / 120f)))));
        return 1f - XMath.Exp(x);
    }

    /// <summary>One parameter of an SGD step (momentum, dampening, Nesterov, L2 decay).</summary>
    private static void SgdKernel(Index1D i, ArrayView1D<float, Stride1D.Dense> p, ArrayView1D<float, Stride1D.Dense> grad,
        ArrayView1D<float, Stride1D.Dense> buffer, ArrayView1D<float, Stride1D.Dense> control, SgdConstants k)
    {
        if (control[StepControl.Skip] != 0f) return;
        float theta = p[i];
        float g = grad[i] * control[StepControl.GradientScale] + k.L2 * theta;
        if (k.HasMomentum != 0)
        {
            float buf = control[StepControl.StepCount] <= 1f ? g : k.Momentum * buffer[i] + k.OneMinusDampening * g;
            buffer[i] = buf;
            g = k.Nesterov != 0 ? g + k.Momentum * buf : buf;
        }
        p[i] = theta - k.LearningRate * g;
    }
}
