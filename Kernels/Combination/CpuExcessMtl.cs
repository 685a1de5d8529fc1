using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>ExcessMTL's state over host memory (T-typed: the state is saved and restored exactly).</summary>
internal unsafe readonly struct CpuExcessMtlMemory<T>(T* risks, T* state, T* weights) : IExcessMtlMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double Risk(int task) => double.CreateTruncating(risks[task]);
    public double Get(int index) => double.CreateTruncating(state[index]);
    public void Set(int index, double value) => state[index] = T.CreateTruncating(value);
    public void SetWeight(int task, double value) => weights[task] = T.CreateTruncating(value);
}

/// <summary>ExcessMTL on the SIMD CPU path: the risk pass fused (S ← S + g², Σ g²/√(S + ε) in one read of g and S, per
/// task row, blocks of <see cref="SumOfSquaresBlock"/> summed in the element type and added in float64), then
/// <see cref="ExcessMtlSolver"/> (float64) over host memory. Readable reference: <see cref="ExcessMtlReference"/>.
/// Maths: docs/maths.md §18.18.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void ExcessRisks(View<T> taskGradients, int tasks, View<T> squaredSums, View<T> risks, View<T> saved = default)
    {
        CombinationChecks.CheckExcessRisks(this, taskGradients, tasks, squaredSums, risks, saved);
        int length = (int)(taskGradients.Length / tasks);
        var r = risks.Span();
        for (int i = 0; i < tasks; i++)
        {
            var job = new ExcessRiskJob
            {
                G = taskGradients.Pointer() + (long)i * length, S = squaredSums.Pointer() + (long)i * length,
                Saved = saved.IsEmpty ? null : saved.Pointer() + (long)i * length,
                Epsilon = T.CreateTruncating(ExcessMtlSolver.Epsilon),
            };
            r[i] = T.CreateTruncating(length == 0 ? 0 : RunChunks(job, length));
        }
    }

    /// <inheritdoc/>
    public override unsafe void ExcessMtlStep(View<T> risks, View<T> state, double stepSize, View<T> weights)
    {
        CombinationChecks.CheckExcessMtl(this, risks, state, weights, stepSize);
        ExcessMtlSolver.Step(new CpuExcessMtlMemory<T>(risks.Pointer(), state.Pointer(), weights.Pointer()), (int)risks.Length, stepSize);
    }

    /// <summary>Per element of one task row: s ← S + g², S ← s where s is finite; returns Σ g²/√(s + ε). With
    /// <see cref="Saved"/> (not null) the old S goes there.</summary>
    private unsafe struct ExcessRiskJob : IChunkJob
    {
        public T* G, S, Saved;
        public T Epsilon;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            for (int b = start, end = start + count; b < end; b += SumOfSquaresBlock)
            {
                int i = b, stop = Math.Min(b + SumOfSquaresBlock, end);
                T sum = T.Zero;
                if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
                {
                    var acc = Vector256<T>.Zero;
                    var eps = Vector256.Create(Epsilon);
                    var infinity = Vector256.Create(T.PositiveInfinity);
                    for (; i <= stop - Vector256<T>.Count; i += Vector256<T>.Count)
                    {
                        var g = Vector256.Load(G + i);
                        var g2 = g * g;
                        var old = Vector256.Load(S + i);
                        if (Saved != null) old.Store(Saved + i);
                        var s = old + g2;
                        Vector256.ConditionalSelect(Vector256.LessThan(s, infinity), s, old).Store(S + i);   // NaN and +∞ keep the old sum
                        acc += g2 / Vector256.Sqrt(s + eps);
                    }
                    sum = Vector256.Sum(acc);
                }
                for (; i < stop; i++)
                {
                    if (Saved != null) Saved[i] = S[i];
                    T g2 = G[i] * G[i], s = S[i] + g2;
                    if (s < T.PositiveInfinity) S[i] = s;
                    sum += g2 / T.Sqrt(s + Epsilon);
                }
                total += double.CreateTruncating(sum);
            }
            return total;
        }
    }
}
