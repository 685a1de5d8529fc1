using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Engine.Kernels.Cpu;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using Vec4View = ArrayView1D<Vec4, Stride1D.Dense>;

/// <summary>Whether an Adam kernel keeps AMSGrad's running maximum of v: a compile-time policy (one kernel each), so
/// the plain kernel neither loads nor stores vMax and has no AMSGrad branch in its loop.</summary>
public interface IAmsGradPolicy
{
    /// <summary>v̂ used in the denominator: v itself, or max(vMax, v) with vMax updated.</summary>
    float Apply(ref float vMax, float v);
    /// <summary>Loads vMax (AMSGrad only; the plain policy loads nothing).</summary>
    Vec4 Load(Vec4View vMax, int j);
    /// <summary>Stores vMax (AMSGrad only).</summary>
    void Store(Vec4View vMax, int j, Vec4 value);
    /// <inheritdoc cref="Load(Vec4View, int)"/>
    float Load(FloatView vMax, int i);
    /// <inheritdoc cref="Store(Vec4View, int, Vec4)"/>
    void Store(FloatView vMax, int i, float value);
}

/// <summary>Plain Adam/AdamW: v̂ = v.</summary>
public readonly struct WithoutAmsGrad : IAmsGradPolicy
{
    public float Apply(ref float vMax, float v) => v;
    public Vec4 Load(Vec4View vMax, int j) => default;
    public void Store(Vec4View vMax, int j, Vec4 value) { }
    public float Load(FloatView vMax, int i) => 0f;
    public void Store(FloatView vMax, int i, float value) { }
}

/// <summary>AMSGrad: v̂ = vMax ← max(vMax, v).</summary>
public readonly struct WithAmsGrad : IAmsGradPolicy
{
    public float Apply(ref float vMax, float v)
    {
        vMax = XMath.Max(vMax, v);
        return vMax;
    }
    public Vec4 Load(Vec4View vMax, int j) => vMax[j];
    public void Store(Vec4View vMax, int j, Vec4 value) => vMax[j] = value;
    public float Load(FloatView vMax, int i) => vMax[i];
    public void Store(FloatView vMax, int i, float value) => vMax[i] = value;
}

/// <summary>
/// Fused Adam/AdamW and SGD as bandwidth-bound streaming kernels (explicitly grouped, grid-stride): each thread walks
/// float4 of every buffer with 128-bit loads and stores (<see cref="StreamLayout"/>: a scalar head and tail outside the
/// main loop), and reads the step-control block (skip flag, gradient scale, step count t) from device memory once, so
/// clipping and the non-finite guard cost no host round-trip and no extra pass. The bias corrections 1 − βᵗ are
/// computed once per thread from the device-side t, see <see cref="OneMinusPower"/>. Maths: docs/maths.md §13.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Per-launch constants of the Adam kernel (float32, derived in float64 on the host). Public only
    /// because ILGPU's CPU accelerator emits kernel arguments into a dynamic assembly that must see the type.</summary>
    public struct AdamConstants
    {
        public float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, LearningRate, Epsilon, L2, DecayFactor, LogBeta1, LogBeta2;
        public int BiasCorrection;
    }

    /// <summary>Per-launch constants of the SGD kernel.</summary>
    public struct SgdConstants
    {
        public float LearningRate, Momentum, OneMinusDampening, L2;
        public int HasMomentum, Nesterov;
    }

    /// <summary>What one Adam lane needs besides its own values: computed once per thread.</summary>
    private readonly struct AdamStepFactors(float scale, float stepSize, float inverseSqrtBc2)
    {
        public readonly float Scale = scale, StepSize = stepSize, InverseSqrtBc2 = inverseSqrtBc2;
    }

    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, FloatView, FloatView, FloatView, AdamConstants, StreamLayout>?
        _adamKernel, _amsGradKernel;

    private Action<AcceleratorStream, KernelConfig, FloatView, FloatView, FloatView, FloatView, SgdConstants, StreamLayout>? _sgdKernel;

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
            BiasCorrection = settings.BiasCorrection ? 1 : 0,
        };
        var layout = settings.AmsGrad
            ? StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, m.Offset, v.Offset, vMax.Offset)
            : StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, m.Offset, v.Offset);
        var kernel = settings.AmsGrad
            ? _amsGradKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, FloatView, FloatView, FloatView, AdamConstants, StreamLayout>(AdamKernel<WithAmsGrad>)
            : _adamKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, FloatView, FloatView, FloatView, AdamConstants, StreamLayout>(AdamKernel<WithoutAmsGrad>);
        var mView = m.Ilgpu();
        // Without AMSGrad the kernel never touches vMax: hand it m so that no empty view reaches the launcher.
        kernel(Launched(), StreamConfig(layout), parameters.Ilgpu(), gradients.Ilgpu(), mView, v.Ilgpu(),
            settings.AmsGrad ? vMax.Ilgpu() : mView, control.Ilgpu(), constants, layout);
    }

    /// <inheritdoc/>
    public override void SgdStep(View<float> parameters, View<float> gradients, View<float> momentumBuffer,
        SgdSettings settings, View<float> control)
    {
        OptimizerChecks.Sgd(this, parameters, gradients, momentumBuffer, settings, control);
        if (parameters.Length == 0) return;
        bool momentum = settings.Momentum != 0;
        var constants = new SgdConstants
        {
            LearningRate = (float)settings.LearningRate, Momentum = (float)settings.Momentum,
            OneMinusDampening = (float)(1 - settings.Dampening), L2 = (float)settings.WeightDecay,
            HasMomentum = momentum ? 1 : 0, Nesterov = settings.Nesterov ? 1 : 0,
        };
        var layout = momentum
            ? StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset, momentumBuffer.Offset)
            : StreamLayout.Of(parameters.Length, parameters.Offset, gradients.Offset);
        _sgdKernel ??= Accelerator.LoadKernel<FloatView, FloatView, FloatView, FloatView, SgdConstants, StreamLayout>(SgdKernel);
        var g = gradients.Ilgpu();
        // Without momentum the kernel never touches the buffer: hand it g so that no empty view reaches the launcher.
        _sgdKernel(Launched(), StreamConfig(layout), parameters.Ilgpu(), g, momentum ? momentumBuffer.Ilgpu() : g,
            control.Ilgpu(), constants, layout);
    }

    /// <summary>A fused Adam/AdamW step over a parameter range (see <see cref="CpuBackend{T}.AdamStep"/> for the same
    /// maths on the CPU): a grid-stride loop over float4 of θ, g, m, v (and vMax), then the scalar head and tail.</summary>
    private static void AdamKernel<TAms>(FloatView p, FloatView grad, FloatView m, FloatView v, FloatView vMax,
        FloatView control, AdamConstants k, StreamLayout layout) where TAms : struct, IAmsGradPolicy
    {
        if (control[StepControl.Skip] != 0f) return;
        float t = control[StepControl.StepCount];
        float bc1 = 1f, bc2 = 1f;
        if (k.BiasCorrection != 0)
        {
            bc1 = OneMinusPower(k.LogBeta1, t);
            bc2 = OneMinusPower(k.LogBeta2, t);
        }
        var f = new AdamStepFactors(control[StepControl.GradientScale], k.LearningRate / bc1, 1f / XMath.Sqrt(bc2));
        TAms ams = default;
        var p4 = Vectors(p, layout);
        var g4 = Vectors(grad, layout);
        var m4 = Vectors(m, layout);
        var v4 = Vectors(v, layout);
        var x4 = Vectors(vMax, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 pj = p4[j], gj = g4[j], mj = m4[j], vj = v4[j], xj = ams.Load(x4, j);
            pj.X = AdamLane<TAms>(pj.X, gj.X, ref mj.X, ref vj.X, ref xj.X, k, f);
            pj.Y = AdamLane<TAms>(pj.Y, gj.Y, ref mj.Y, ref vj.Y, ref xj.Y, k, f);
            pj.Z = AdamLane<TAms>(pj.Z, gj.Z, ref mj.Z, ref vj.Z, ref xj.Z, k, f);
            pj.W = AdamLane<TAms>(pj.W, gj.W, ref mj.W, ref vj.W, ref xj.W, k, f);
            p4[j] = pj;
            m4[j] = mj;
            v4[j] = vj;
            ams.Store(x4, j, xj);
        }
        int scalars = ScalarCount(layout);
        for (int s = GlobalThread; s < scalars; s += stride)
        {
            int i = ScalarIndex(layout, s);
            float mi = m[i], vi = v[i], xi = ams.Load(vMax, i);
            p[i] = AdamLane<TAms>(p[i], grad[i], ref mi, ref vi, ref xi, k, f);
            m[i] = mi;
            v[i] = vi;
            ams.Store(vMax, i, xi);
        }
    }

    /// <summary>One parameter's Adam update: returns the new θ and updates m, v (and vMax).</summary>
    private static float AdamLane<TAms>(float p, float grad, ref float m, ref float v, ref float vMax, AdamConstants k, AdamStepFactors f)
        where TAms : struct, IAmsGradPolicy
    {
        float theta = p * k.DecayFactor;                       // AdamW: θ(1 − lr·λ)
        float g = grad * f.Scale + k.L2 * theta;               // clip scale; Adam: + λθ
        m = k.Beta1 * m + k.OneMinusBeta1 * g;
        v = k.Beta2 * v + k.OneMinusBeta2 * (g * g);
        TAms ams = default;
        float vHat = ams.Apply(ref vMax, v);
        return theta - f.StepSize * m / (XMath.Sqrt(vHat) * f.InverseSqrtBc2 + k.Epsilon); // θ − lr/(1−β₁ᵗ)·m/(√(v̂/(1−β₂ᵗ)) + ε)
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

    /// <summary>An SGD step over a parameter range (momentum, dampening, Nesterov, L2 decay): float4 main loop, scalar
    /// head and tail. The momentum flags and the first-step test are the same for every thread (uniform branches).</summary>
    private static void SgdKernel(FloatView p, FloatView grad, FloatView buffer, FloatView control, SgdConstants k, StreamLayout layout)
    {
        if (control[StepControl.Skip] != 0f) return;
        float scale = control[StepControl.GradientScale];
        int first = control[StepControl.StepCount] <= 1f ? 1 : 0;
        var p4 = Vectors(p, layout);
        var g4 = Vectors(grad, layout);
        var b4 = Vectors(buffer, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 pj = p4[j], gj = g4[j], bj = k.HasMomentum != 0 ? b4[j] : default;
            pj.X = SgdLane(pj.X, gj.X, ref bj.X, scale, first, k);
            pj.Y = SgdLane(pj.Y, gj.Y, ref bj.Y, scale, first, k);
            pj.Z = SgdLane(pj.Z, gj.Z, ref bj.Z, scale, first, k);
            pj.W = SgdLane(pj.W, gj.W, ref bj.W, scale, first, k);
            p4[j] = pj;
            if (k.HasMomentum != 0) b4[j] = bj;
        }
        int scalars = ScalarCount(layout);
        for (int s = GlobalThread; s < scalars; s += stride)
        {
            int i = ScalarIndex(layout, s);
            float bi = k.HasMomentum != 0 ? buffer[i] : 0f;
            p[i] = SgdLane(p[i], grad[i], ref bi, scale, first, k);
            if (k.HasMomentum != 0) buffer[i] = bi;
        }
    }

    /// <summary>One parameter's SGD update: returns the new θ and updates the momentum buffer.</summary>
    private static float SgdLane(float theta, float grad, ref float buf, float scale, int first, SgdConstants k)
    {
        float g = grad * scale + k.L2 * theta;
        if (k.HasMomentum != 0)
        {
            buf = first != 0 ? g : k.Momentum * buf + k.OneMinusDampening * g;
            g = k.Nesterov != 0 ? g + k.Momentum * buf : buf;
        }
        return theta - k.LearningRate * g;
    }
}
