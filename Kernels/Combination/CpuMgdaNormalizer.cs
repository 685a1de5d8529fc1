namespace Engine.Kernels.Cpu;

/// <summary>MGDA's normalised task weights on the host (<see cref="MgdaNormalizer"/>, float64). Maths: docs/maths.md §18.16.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void MgdaNormalizedWeights(View<T> gram, int count, View<T> losses, View<T> weights, MgdaNormalization normalization,
        View<T> normalized)
    {
        CombinationChecks.CheckMgdaNormalizer(this, gram, count, losses, weights, normalization, normalized);
        ReadOnlySpan<T> g = gram.Span(), l = losses.Span(), w = weights.Span();
        Span<T> o = normalized.Span();
        for (int i = 0; i < count; i++)
            o[i] = T.CreateTruncating(MgdaNormalizer.Weight((int)normalization, double.CreateTruncating(g[i * count + i]),
                double.CreateTruncating(l[i]), double.CreateTruncating(w[i])));
    }
}
