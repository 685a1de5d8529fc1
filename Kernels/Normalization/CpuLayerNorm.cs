using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Layer normalization on the SIMD CPU path: each row is a handful of <see cref="TensorPrimitives"/> calls (sum, centre,
/// sum of squares, scale, γ·x̂ + β), rows split over the cores by <see cref="RunChunks{TJob}"/>. The input gradient is
/// rewritten as dx = rstd·g + c₁ + c₂·x (g = dy ⊙ γ; c₁, c₂ per row from Σg and ⟨g, x⟩), a scale, a fused multiply-add and
/// an add over the row. The parameter gradients add each row into its group's dγ, dβ in row order (deterministic). Reference:
/// Kernels/Normalization/LayerNormReference.cs.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void LayerNormForward(View<T> x, int rows, int cols, int groups, View<T> gamma, View<T> beta, T epsilon,
        View<T> y, View<T> mean, View<T> rstd)
    {
        LayerNormChecks.Forward(this, x, rows, cols, groups, gamma, beta, y, mean, rstd);
        RunChunks(new LayerNormJob { X = x.Pointer(), Y = y.Pointer(), Gamma = gamma.Pointer(), Beta = beta.Pointer(), Mean = mean.Pointer(),
            Rstd = rstd.Pointer(), Cols = cols, PerGroup = rows / groups, Epsilon = epsilon }, rows, cols);
    }

    /// <inheritdoc/>
    public override unsafe void LayerNormBackwardInput(View<T> x, View<T> mean, View<T> rstd, View<T> gamma, View<T> dy, int rows, int cols,
        int groups, View<T> scratch, View<T> dx, bool accumulate)
    {
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dx, nameof(dx), (long)rows * cols);
        Check.Length(gamma, (long)groups * cols, nameof(gamma));
        RunChunks(new LayerNormInputJob { X = x.Pointer(), Gamma = gamma.Pointer(), Mean = mean.Pointer(), Rstd = rstd.Pointer(), DY = dy.Pointer(),
            S = scratch.Pointer(), DX = dx.Pointer(), Cols = cols, PerGroup = rows / groups, Accumulate = accumulate }, rows, cols);
    }

    /// <inheritdoc/>
    public override unsafe void LayerNormBackwardParameters(View<T> x, View<T> mean, View<T> rstd, View<T> dy, int rows, int cols, int groups,
        View<T> scratch, View<T> dGamma, bool accumulateGamma, View<T> dBeta, bool accumulateBeta)
    {
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dGamma, nameof(dGamma), (long)groups * cols);
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dBeta, nameof(dBeta), (long)groups * cols);
        int perGroup = rows / groups;
        for (int g = 0; g < groups; g++)
        {
            if (!dGamma.IsEmpty)
            {
                var dG = dGamma.Span().Slice(g * cols, cols);
                if (!accumulateGamma) dG.Clear();
                for (int r = g * perGroup; r < (g + 1) * perGroup; r++)
                {
                    var xhat = scratch.Span().Slice(r * cols, cols);
                    TensorPrimitives.Subtract(x.Span().Slice(r * cols, cols), mean.Span()[r], xhat);
                    TensorPrimitives.Multiply(xhat, rstd.Span()[r], xhat);
                    TensorPrimitives.FusedMultiplyAdd(dy.Span().Slice(r * cols, cols), xhat, dG, dG);
                }
            }
            if (!dBeta.IsEmpty)
            {
                var dB = dBeta.Span().Slice(g * cols, cols);
                if (!accumulateBeta) dB.Clear();
                for (int r = g * perGroup; r < (g + 1) * perGroup; r++) TensorPrimitives.Add(dB, dy.Span().Slice(r * cols, cols), dB);
            }
        }
    }

    /// <summary>Rows [start, start + count): μ, rstd, y = γ·(x − μ)·rstd + β.</summary>
    private unsafe struct LayerNormJob : IChunkJob
    {
        public T* X, Y, Gamma, Beta, Mean, Rstd;
        public int Cols, PerGroup;
        public T Epsilon;

        public readonly double Run(int start, int count)
        {
            T n = T.CreateChecked(Cols);
            for (int r = start; r < start + count; r++)
            {
                var x = new ReadOnlySpan<T>(X + (long)r * Cols, Cols);
                var y = new Span<T>(Y + (long)r * Cols, Cols);
                long g = (long)(r / PerGroup) * Cols;
                T mu = TensorPrimitives.Sum(x) / n;
                TensorPrimitives.Subtract(x, mu, y);
                T s = T.One / T.Sqrt(TensorPrimitives.SumOfSquares<T>(y) / n + Epsilon);
                TensorPrimitives.Multiply(y, s, y);
                TensorPrimitives.FusedMultiplyAdd(y, new ReadOnlySpan<T>(Gamma + g, Cols), new ReadOnlySpan<T>(Beta + g, Cols), y);
                Mean[r] = mu;
                Rstd[r] = s;
            }
            return 0;
        }
    }

    /// <summary>Rows [start, start + count): s = dy ⊙ γ; dx (+)= rstd·s + c₁ + c₂·x with c₂ = −rstd³·(⟨s, x⟩ − μΣs)/n and
    /// c₁ = −rstd·Σs/n − c₂·μ (the reference's rstd·(g − mean(g) − x̂·mean(g·x̂)), expanded).</summary>
    private unsafe struct LayerNormInputJob : IChunkJob
    {
        public T* X, Gamma, Mean, Rstd, DY, S, DX;
        public int Cols, PerGroup;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            T n = T.CreateChecked(Cols);
            for (int r = start; r < start + count; r++)
            {
                var x = new ReadOnlySpan<T>(X + (long)r * Cols, Cols);
                var s = new Span<T>(S + (long)r * Cols, Cols);
                var dx = new Span<T>(DX + (long)r * Cols, Cols);
                TensorPrimitives.Multiply(new ReadOnlySpan<T>(DY + (long)r * Cols, Cols), new ReadOnlySpan<T>(Gamma + (long)(r / PerGroup) * Cols, Cols), s);
                T mu = Mean[r], rs = Rstd[r];
                T sum = TensorPrimitives.Sum<T>(s), inner = TensorPrimitives.Dot<T>(s, x);
                T c2 = -rs * rs * rs * (inner - mu * sum) / n;
                T c1 = -rs * sum / n - c2 * mu;
                TensorPrimitives.Multiply(s, rs, s);
                TensorPrimitives.FusedMultiplyAdd(x, c2, s, s);
                TensorPrimitives.Add(s, c1, s);
                if (Accumulate) TensorPrimitives.Add(dx, s, dx);
                else s.CopyTo(dx);
            }
            return 0;
        }
    }
}
