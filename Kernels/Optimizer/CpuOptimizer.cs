using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Fused Adam/AdamW and SGD on the SIMD CPU path. One pass over θ, g and the state buffers per step;
/// the per-step scalars (bias corrections, step size) are computed once per call in float64 from the
/// step-control block, which on the CPU lives in host memory (reading it is not a round-trip).
/// Maths: docs/maths.md §13.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void AdamStep(View<T> parameters, View<T> gradients, View<T> m, View<T> v, View<T> vMax,
        AdamSettings settings, View<T> control)
    {
        OptimizerChecks.Adam(this, parameters, gradients, m, v, vMax, settings, control);
        var c = control.Span();
        if (c[StepControl.Skip] != T.Zero || parameters.Length == 0) return;

        double t = double.CreateTruncating(c[StepControl.StepCount]);
        double lr = settings.LearningRate, lambda = settings.WeightDecay;
        double bc1 = settings.BiasCorrection ? 1 - Math.Pow(settings.Beta1, t) : 1;
        double bc2 = settings.BiasCorrection ? 1 - Math.Pow(settings.Beta2, t) : 1;
        var job = new AdamJob
        {
            P = parameters.Pointer(), G = gradients.Pointer(), M = m.Pointer(), V = v.Pointer(),
            VMax = settings.AmsGrad ? vMax.Pointer() : null,
            Scale = c[StepControl.GradientScale],
            Beta1 = T.CreateTruncating(settings.Beta1), OneMinusBeta1 = T.CreateTruncating(1 - settings.Beta1),
            Beta2 = T.CreateTruncating(settings.Beta2), OneMinusBeta2 = T.CreateTruncating(1 - settings.Beta2),
            StepSize = T.CreateTruncating(lr / bc1),
            InverseSqrtBc2 = T.CreateTruncating(1 / Math.Sqrt(bc2)),
            Epsilon = T.CreateTruncating(settings.Epsilon),
            L2 = T.CreateTruncating(settings.Decoupled ? 0 : lambda),
            DecayFactor = T.CreateTruncating(settings.Decoupled ? 1 - lr * lambda : 1),
        };
        RunChunks(job, parameters.Length);
    }

    /// <inheritdoc/>
    public override unsafe void SgdStep(View<T> parameters, View<T> gradients, View<T> momentumBuffer,
        SgdSettings settings, View<T> control)
    {
        OptimizerChecks.Sgd(this, parameters, gradients, momentumBuffer, settings, control);
        var c = control.Span();
        if (c[StepControl.Skip] != T.Zero || parameters.Length == 0) return;

        bool first = double.CreateTruncating(c[StepControl.StepCount]) <= 1;
        var job = new SgdJob
        {
            P = parameters.Pointer(), G = gradients.Pointer(),
            Buffer = settings.Momentum != 0 ? momentumBuffer.Pointer() : null,
            FirstStep = first, Nesterov = settings.Nesterov,
            Scale = c[StepControl.GradientScale],
            LearningRate = T.CreateTruncating(settings.LearningRate),
            Momentum = T.CreateTruncating(settings.Momentum),
            OneMinusDampening = T.CreateTruncating(1 - settings.Dampening),
            L2 = T.CreateTruncating(settings.WeightDecay),
        };
        RunChunks(job, parameters.Length);
    }

    /// <summary>
    /// Per element: θ ← θ·(1 − lr·λ) [AdamW]; g ← scale·g + λθ [Adam, L2]; m ← β₁m + (1−β₁)g;
    /// v ← β₂v + (1−β₂)g²; v̂ ← max(v̂, v) [AMSGrad]; θ ← θ − (lr/bc₁)·m / (√v̂/√bc₂ + ε).
    /// </summary>
    private unsafe struct AdamJob : IChunkJob
    {
        public T* P, G, M, V, VMax;
        public T Scale, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, StepSize, InverseSqrtBc2, Epsilon, L2, DecayFactor;

        public readonly double Run(int start, int count)
        {
            int i = start, end = start + count;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var scale = Vector256.Create(Scale); var b1 = Vector256.Create(Beta1); var c1 = Vector256.Create(OneMinusBeta1);
                var b2 = Vector256.Create(Beta2); var c2 = Vector256.Create(OneMinusBeta2); var step = Vector256.Create(StepSize);
                var invBc2 = Vector256.Create(InverseSqrtBc2); var eps = Vector256.Create(Epsilon);
                var l2 = Vector256.Create(L2); var decay = Vector256.Create(DecayFactor);
                for (; i <= end - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var theta = Vector256.Load(P + i) * decay;
                    var g = Vector256.Load(G + i) * scale + l2 * theta;
                    var m = b1 * Vector256.Load(M + i) + c1 * g;
                    var v = b2 * Vector256.Load(V + i) + c2 * (g * g);
                    m.Store(M + i);
                    v.Store(V + i);
                    if (VMax != null)
                    {
                        v = Vector256.Max(Vector256.Load(VMax + i), v);
                        v.Store(VMax + i);
                    }
                    var denominator = Vector256.Sqrt(v) * invBc2 + eps;
                    (theta - step * m / denominator).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                T theta = P[i] * DecayFactor;
                T g = G[i] * Scale + L2 * theta;
                T m = Beta1 * M[i] + OneMinusBeta1 * g;
                T v = Beta2 * V[i] + OneMinusBeta2 * (g * g);
                M[i] = m;
                V[i] = v;
                if (VMax != null) v = VMax[i] = T.Max(VMax[i], v);
                P[i] = theta - StepSize * m / (T.Sqrt(v) * InverseSqrtBc2 + Epsilon);
            }
            return 0;
        }
    }

    /// <summary>
    /// Per element: g ← scale·g + λθ; with momentum μ: buf ← g on the first step, else
    /// buf ← μ·buf + (1 − dampening)·g, then g ← g + μ·buf (Nesterov) or g ← buf; θ ← θ − lr·g.
    /// </summary>
    private unsafe struct SgdJob : IChunkJob
    {
        public T* P, G, Buffer;
        public bool FirstStep, Nesterov;
        public T Scale, LearningRate, Momentum, OneMinusDampening, L2;

        public readonly double Run(int start, int count)
        {
            int i = start, end = start + count;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var scale = Vector256.Create(Scale); var lr = Vector256.Create(LearningRate); var mu = Vector256.Create(Momentum);
                var damp = Vector256.Create(OneMinusDampening); var l2 = Vector256.Create(L2);
                for (; i <= end - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var theta = Vector256.Load(P + i);
                    var g = Vector256.Load(G + i) * scale + l2 * theta;
                    if (Buffer != null)
                    {
                        var buf = FirstStep ? g : mu * Vector256.Load(Buffer + i) + damp * g;
                        buf.Store(Buffer + i);
                        g = Nesterov ? g + mu * buf : buf;
                    }
                    (theta - lr * g).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                T theta = P[i];
                T g = G[i] * Scale + L2 * theta;
                if (Buffer != null)
                {
                    T buf = FirstStep ? g : Momentum * Buffer[i] + OneMinusDampening * g;
                    Buffer[i] = buf;
                    g = Nesterov ? g + Momentum * buf : buf;
                }
                P[i] = theta - LearningRate * g;
            }
            return 0;
        }
    }
}
