namespace Engine.Kernels;

/// <summary>
/// IMTL-G's closed form (Liu et al. 2021, "Towards Impartial Multi-task Learning"; LibMTL <c>IMTL</c>) from the
/// Gram matrix alone, in float64: with the weighted gradients g̃ᵢ = wᵢgᵢ, their unit vectors uᵢ = g̃ᵢ/‖g̃ᵢ‖,
/// D = [g̃₁ − g̃ₜ]ₜ₌₂..T and U = [u₁ − uₜ]ₜ₌₂..T, the weights α₂..T = g̃₁Uᵀ(DUᵀ)⁻¹, α₁ = 1 − Σₜ₌₂..T αₜ, and the
/// combined gradient Σₜ αₜg̃ₜ has the same projection on every uₜ. Every entry is a Gram entry over norms:
/// (DUᵀ)ₚ_q = G̃₁₁/n₁ − G̃₁q/n_q − G̃ₚ₁/n₁ + G̃ₚq/n_q and (g̃₁Uᵀ)_q = G̃₁₁/n₁ − G̃₁q/n_q (nᵢ = √G̃ᵢᵢ). The
/// (T−1)×(T−1) system is solved by Gaussian elimination with partial pivoting. This code is both the readable
/// reference and the kernel: it runs as is on the host (<c>CpuBackend.ImtlCoefficients</c>) and as a single-thread
/// ILGPU kernel (<c>IlgpuBackend.ImtlCoefficients</c>), so it uses plain loops and scalar locals only.
/// <para>Guards (LibMTL has none: it returns NaN or fails to invert): a task whose G̃ᵢᵢ is 0 or at most 10⁻²⁰·maxⱼ G̃ⱼⱼ
/// (no label in the batch, weight 0) is left out (α = 0) and IMTL-G runs on the others; one task left gives its
/// gradient, none gives 0; a pivot at most 10⁻¹² × the system's largest entry (two unit gradients equal, so every
/// α with Σα = 1 is impartial) gives the mean of the active tasks. The tests are relative: scaling every gradient
/// changes nothing.</para>
/// Workspace (float64, T = count): [0, T²) G̃; [T², 2T²) the augmented system (row stride T); then the active
/// tasks' norms, their indices, and β (T each). Maths: docs/maths.md §18.6.
/// </summary>
public static class ImtlSolver
{
    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 2 * count * count + 3 * count;

    /// <summary>Writes the coefficients aₖ = wₖαₖ (the result is Σₖ aₖgₖ).</summary>
    public static void Solve<TMemory>(TMemory m, int count) where TMemory : struct, ICombinationMemory
    {
        int t = count, norm = 2 * t * t, active = norm + t, beta = active + t;
        CombinationSolver.WeightGram(m, t);
        double maxDiagonal = 0;
        for (int i = 0; i < t; i++)
        {
            double d = m.Get(i * t + i);
            if (d > maxDiagonal) maxDiagonal = d;
            m.Set(beta + i, 0.0);
        }
        int n = 0;
        for (int i = 0; i < t; i++)
        {
            double d = m.Get(i * t + i);
            if (d > 0 && d > 1e-20 * maxDiagonal)
            {
                m.Set(active + n, i);
                m.Set(norm + n, Math.Sqrt(d));
                n++;
            }
        }
        if (n == 1) m.Set(beta + (int)m.Get(active), 1.0);
        if (n >= 2 && !Impartial(m, t, n))
            for (int p = 0; p < n; p++) m.Set(beta + (int)m.Get(active + p), 1.0 / n);
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>Builds and solves (DUᵀ)ᵀαᵀ = (g̃₁Uᵀ)ᵀ over the n active tasks (the first active one plays task 1);
    /// false when the system is singular.</summary>
    private static bool Impartial<TMemory>(TMemory m, int t, int n) where TMemory : struct, ICombinationMemory
    {
        int system = t * t, norm = 2 * t * t, active = norm + t, beta = active + t, k = n - 1;
        int first = (int)m.Get(active);
        double n1 = m.Get(norm), g11 = m.Get(first * t + first), largest = 0;
        // Row q (equation q, the task active[q + 1]): Σₚ αₚ(DUᵀ)ₚ_q = (g̃₁Uᵀ)_q; column k holds the right-hand side.
        for (int q = 0; q < k; q++)
        {
            int jq = (int)m.Get(active + q + 1);
            double nq = m.Get(norm + q + 1), r = g11 / n1 - m.Get(first * t + jq) / nq;
            m.Set(system + q * t + k, r);
            for (int p = 0; p < k; p++)
            {
                int ip = (int)m.Get(active + p + 1);
                double dpq = r - m.Get(ip * t + first) / n1 + m.Get(ip * t + jq) / nq;
                m.Set(system + q * t + p, dpq);
                if (Math.Abs(dpq) > largest) largest = Math.Abs(dpq);
            }
        }
        if (!(largest > 0)) return false;

        // Gaussian elimination with partial pivoting, then back substitution (αₚ into column k).
        for (int c = 0; c < k; c++)
        {
            int pivot = c;
            for (int q = c + 1; q < k; q++)
                if (Math.Abs(m.Get(system + q * t + c)) > Math.Abs(m.Get(system + pivot * t + c))) pivot = q;
            if (!(Math.Abs(m.Get(system + pivot * t + c)) > 1e-12 * largest)) return false;
            if (pivot != c)
                for (int p = c; p <= k; p++)
                {
                    double swap = m.Get(system + c * t + p);
                    m.Set(system + c * t + p, m.Get(system + pivot * t + p));
                    m.Set(system + pivot * t + p, swap);
                }
            double diagonal = m.Get(system + c * t + c);
            for (int q = c + 1; q < k; q++)
            {
                double factor = m.Get(system + q * t + c) / diagonal;
                for (int p = c; p <= k; p++) m.Set(system + q * t + p, m.Get(system + q * t + p) - factor * m.Get(system + c * t + p));
            }
        }
        double rest = 1.0;
        for (int c = k - 1; c >= 0; c--)
        {
            double x = m.Get(system + c * t + k);
            for (int p = c + 1; p < k; p++) x -= m.Get(system + c * t + p) * m.Get(system + p * t + k);
            x /= m.Get(system + c * t + c);
            m.Set(system + c * t + k, x);
            m.Set(beta + (int)m.Get(active + c + 1), x);
            rest -= x;
        }
        m.Set(beta + first, rest);
        return true;
    }
}
