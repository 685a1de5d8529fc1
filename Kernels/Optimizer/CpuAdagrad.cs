using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Fused Adagrad on the SIMD CPU path: one pass over θ, g and the sum of squares s, the clip scale, skip flag and step
/// count read from the step-control block (host memory on the CPU). Readable reference: <see cref="AdagradReference"/>.
/// Maths: docs/maths.md §13.9.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void AdagradStep(View<T> parameters, View<T> gradients, View<T> stateSum, AdagradSettings settings, View<T> control)
    {
        OptimizerChecks.Adagrad(this, parameters, gradients, stateSum, settings, control);
        var c = control.Span();
        if (c[StepControl.Skip] != T.Zero || parameters.Length == 0) return;
        double t = double.CreateTruncating(c[StepControl.StepCount]);
        var job = new AdagradJob
        {
            P = parameters.Pointer(), G = gradients.Pointer(), S = stateSum.Pointer(),
            Scale = c[StepControl.GradientScale], Epsilon = T.CreateTruncating(settings.Epsilon), L2 = T.CreateTruncating(settings.WeightDecay),
            LearningRate = T.CreateTruncating(settings.LearningRate / (1 + (t - 1) * settings.LearningRateDecay)),
        };
        RunChunks(job, parameters.Length);
    }

    /// <summary>Per element: g ← scale·g + λθ; s ← s + g²; θ ← θ − clr·g/(√s + ε).</summary>
    private unsafe struct AdagradJob : IChunkJob
    {
        public T* P, G, S;
        public T Scale, Epsilon, L2, LearningRate;

        public readonly double Run(int start, int count)
        {
            int i = start, end = start + count;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var scale = Vector256.Create(Scale); var eps = Vector256.Create(Epsilon);
                var l2 = Vector256.Create(L2); var lr = Vector256.Create(LearningRate);
                for (; i <= end - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var theta = Vector256.Load(P + i);
                    var g = Vector256.Load(G + i) * scale + l2 * theta;
                    var s = Vector256.Load(S + i) + g * g;
                    s.Store(S + i);
                    (theta - lr * (g / (Vector256.Sqrt(s) + eps))).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                T theta = P[i];
                T g = G[i] * Scale + L2 * theta;
                T s = S[i] = S[i] + g * g;
                P[i] = theta - LearningRate * (g / (T.Sqrt(s) + Epsilon));
            }
            return 0;
        }
    }
}
