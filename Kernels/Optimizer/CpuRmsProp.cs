using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Fused RMSprop on the SIMD CPU path: one pass over θ, g, v (and ḡ, the momentum buffer), the clip scale and skip flag
/// read from the step-control block (host memory on the CPU). Readable reference: <see cref="RmsPropReference"/>.
/// Maths: docs/maths.md §13.8.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void RmsPropStep(View<T> parameters, View<T> gradients, View<T> squareAverage, View<T> gradientAverage,
        View<T> momentumBuffer, RmsPropSettings settings, View<T> control)
    {
        OptimizerChecks.RmsProp(this, parameters, gradients, squareAverage, gradientAverage, momentumBuffer, settings, control);
        var c = control.Span();
        if (c[StepControl.Skip] != T.Zero || parameters.Length == 0) return;
        var job = new RmsPropJob
        {
            P = parameters.Pointer(), G = gradients.Pointer(), V = squareAverage.Pointer(),
            Mean = settings.Centered ? gradientAverage.Pointer() : null,
            Buffer = settings.Momentum != 0 ? momentumBuffer.Pointer() : null,
            Scale = c[StepControl.GradientScale],
            Alpha = T.CreateTruncating(settings.Alpha), OneMinusAlpha = T.CreateTruncating(1 - settings.Alpha),
            Epsilon = T.CreateTruncating(settings.Epsilon), L2 = T.CreateTruncating(settings.WeightDecay),
            LearningRate = T.CreateTruncating(settings.LearningRate), Momentum = T.CreateTruncating(settings.Momentum),
        };
        RunChunks(job, parameters.Length);
    }

    /// <summary>
    /// Per element: g ← scale·g + λθ; v ← αv + (1−α)g²; centered: ḡ ← αḡ + (1−α)g, d = √(v − ḡ²) + ε, else d = √v + ε;
    /// momentum μ: buf ← μ·buf + g/d, θ ← θ − lr·buf; without: θ ← θ − lr·g/d.
    /// </summary>
    private unsafe struct RmsPropJob : IChunkJob
    {
        public T* P, G, V, Mean, Buffer;
        public T Scale, Alpha, OneMinusAlpha, Epsilon, L2, LearningRate, Momentum;

        public readonly double Run(int start, int count)
        {
            int i = start, end = start + count;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var scale = Vector256.Create(Scale); var alpha = Vector256.Create(Alpha); var oneMinusAlpha = Vector256.Create(OneMinusAlpha);
                var eps = Vector256.Create(Epsilon); var l2 = Vector256.Create(L2); var lr = Vector256.Create(LearningRate);
                var mu = Vector256.Create(Momentum);
                for (; i <= end - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var theta = Vector256.Load(P + i);
                    var g = Vector256.Load(G + i) * scale + l2 * theta;
                    var v = alpha * Vector256.Load(V + i) + oneMinusAlpha * (g * g);
                    v.Store(V + i);
                    if (Mean != null)
                    {
                        var mean = alpha * Vector256.Load(Mean + i) + oneMinusAlpha * g;
                        mean.Store(Mean + i);
                        v -= mean * mean;
                    }
                    var step = g / (Vector256.Sqrt(v) + eps);
                    if (Buffer != null)
                    {
                        step = mu * Vector256.Load(Buffer + i) + step;
                        step.Store(Buffer + i);
                    }
                    (theta - lr * step).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                T theta = P[i];
                T g = G[i] * Scale + L2 * theta;
                T v = Alpha * V[i] + OneMinusAlpha * (g * g);
                V[i] = v;
                if (Mean != null)
                {
                    T mean = Mean[i] = Alpha * Mean[i] + OneMinusAlpha * g;
                    v -= mean * mean;
                }
                T step = g / (T.Sqrt(v) + Epsilon);
                if (Buffer != null) step = Buffer[i] = Momentum * Buffer[i] + step;
                P[i] = theta - LearningRate * step;
            }
            return 0;
        }
    }
}
