namespace Engine.Kernels;

/// <summary>The gradient normalisers of Sener &amp; Koltun 2018 (their code's <c>gradient_normalizers</c>; LibMTL
/// <c>MGDA</c>'s <c>mgda_gn</c>): MGDA then runs on gᵢ/cᵢ.</summary>
public enum MgdaNormalization
{
    /// <summary><c>none</c>: cᵢ = 1.</summary>
    None = 0,
    /// <summary><c>l2</c>: cᵢ = ‖gᵢ‖.</summary>
    L2 = 1,
    /// <summary><c>loss</c>: cᵢ = Lᵢ.</summary>
    Loss = 2,
    /// <summary><c>loss+</c>: cᵢ = Lᵢ·‖gᵢ‖.</summary>
    LossPlus = 3,
}

/// <summary>
/// The normalised task weights w'ᵢ = wᵢ/cᵢ (docs/maths.md §18.16): handing w' to the MGDA solve makes it run on the
/// normalised weighted gradients wᵢgᵢ/cᵢ, whose Gram matrix is w'ᵢw'ⱼGᵢⱼ, and return Σ βₖ·wₖgₖ/cₖ (LibMTL applies the
/// min-norm weights to the normalised gradients). cᵢ comes from the unweighted gradient (‖gᵢ‖ = √Gᵢᵢ) and loss Lᵢ.
/// Guard: a cᵢ that is not positive and finite (a zero gradient, a zero loss) leaves task i unnormalised (cᵢ = 1)
/// where the reference code would divide by zero. Plain scalar code: runs on the host and as a single-thread ILGPU kernel.
/// </summary>
public static class MgdaNormalizer
{
    /// <summary>w/c for one task from Gᵢᵢ, Lᵢ and wᵢ (float64).</summary>
    public static double Weight(int normalization, double gramDiagonal, double loss, double weight)
    {
        double norm = Math.Sqrt(gramDiagonal > 0 ? gramDiagonal : 0.0);
        double c = normalization == (int)MgdaNormalization.L2 ? norm
                 : normalization == (int)MgdaNormalization.Loss ? loss
                 : normalization == (int)MgdaNormalization.LossPlus ? loss * norm
                 : 1.0;
        return c > 0 && c < double.PositiveInfinity ? weight / c : weight;
    }
}
