namespace Engine.Kernels;

/// <summary>
/// UPGrad's coefficients (Quinton &amp; Rey 2024, "Jacobian Descent for Multi-Objective Optimization"; torchjd
/// <c>UPGradWeighting</c>) from the Gram matrix alone, in float64. With the weighted gradients g̃ᵢ = wᵢgᵢ as the rows of J
/// and G = JJᵀ normalised by its trace and regularised (G ← G̃/tr G̃ + εI, torchjd's <c>normalize</c> and
/// <c>regularize</c>), each row's projection onto the dual cone {d : Jd ≥ 0} of the rows is Jᵀvᵢ with
/// vᵢ = argmin_{v ≥ uᵢ} vᵀGv, uᵢ = eᵢ/T (torchjd's <c>project_weights</c>, its Proposition 1), and the update is
/// Σᵢ Jᵀvᵢ = Σₖ βₖg̃ₖ, β = Σᵢ vᵢ — the mean of the projected rows. Each T-dimensional QP is solved, with v = uᵢ + x, as
/// min ½xᵀGx + xᵀGuᵢ over x ≥ 0 by the Lawson–Hanson active-set method (exact: a Cholesky solve on the passive set, a
/// step back to feasibility when a component would turn non-positive), at most <c>maxIterations</c> outer iterations.
/// This code is the readable reference and the kernel (host, and a single-thread ILGPU kernel).
/// <para>Workspace (float64, T = count): [0, T²) G̃ then G; [T², 2T²) the Cholesky factor (row stride T); then x, z,
/// Guᵢ, the passive flags, the passive indices and β (T each). All-zero gradients give 0.</para>
/// Maths: docs/maths.md §18.8.
/// </summary>
public static class UpgradSolver
{
    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 2 * count * count + 6 * count;

    /// <summary>Writes the coefficients aₖ = wₖβₖ; <paramref name="regularization"/> is ε (torchjd's <c>reg_eps</c>).</summary>
    public static void Solve<TMemory>(TMemory m, int count, double regularization, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int t = count, beta = 2 * t * t + 5 * t;
        CombinationSolver.WeightGram(m, t);
        double trace = 0;
        for (int i = 0; i < t; i++) trace += m.Get(i * t + i);
        for (int i = 0; i < t; i++)
        {
            for (int j = 0; j < t; j++) m.Set(i * t + j, (trace > 0 ? m.Get(i * t + j) / trace : 0.0) + (i == j ? regularization : 0.0));
            m.Set(beta + i, 0.0);
        }
        for (int i = 0; i < t; i++)
        {
            Project(m, t, i, maxIterations);
            int x = 2 * t * t;
            for (int k = 0; k < t; k++) m.Set(beta + k, m.Get(beta + k) + m.Get(x + k) + (k == i ? 1.0 / t : 0.0));
        }
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>x = argmin_{x ≥ 0} ½xᵀGx + xᵀc, c = G·eᵢ/T (Lawson–Hanson), into the x slot.</summary>
    private static void Project<TMemory>(TMemory m, int t, int task, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int x = 2 * t * t, z = x + t, c = z + t, passive = c + t;
        double largest = 0;
        for (int k = 0; k < t; k++)
        {
            m.Set(x + k, 0.0);
            m.Set(passive + k, 0.0);
            double ck = m.Get(k * t + task) / t;
            m.Set(c + k, ck);
            if (Math.Abs(ck) > largest) largest = Math.Abs(ck);
        }
        double tolerance = 1e-13 * largest;   // relative (G is normalised, so this is scale-free anyway)
        for (int outer = 0; outer < maxIterations; outer++)
        {
            // The most negative gradient (c + Gx)ⱼ among the zero components: the KKT test.
            int enter = -1;
            double most = -tolerance;
            for (int j = 0; j < t; j++)
            {
                if (m.Get(passive + j) != 0) continue;
                double gj = m.Get(c + j);
                for (int k = 0; k < t; k++) gj += m.Get(j * t + k) * m.Get(x + k);
                if (gj < most) { most = gj; enter = j; }
            }
            if (enter < 0) return;
            m.Set(passive + enter, 1.0);
            for (int inner = 0; inner < maxIterations; inner++)
            {
                if (!SolvePassive(m, t)) return;
                if (inner == 0 && !(m.Get(z + enter) > 0))
                {
                    m.Set(passive + enter, 0.0);   // rounding: the entering component cannot grow, so x is optimal
                    return;
                }
                double step = 1.0;
                for (int j = 0; j < t; j++)
                    if (m.Get(passive + j) != 0 && !(m.Get(z + j) > 0))
                    {
                        double xj = m.Get(x + j), r = xj / (xj - m.Get(z + j));
                        if (r < step) step = r;
                    }
                for (int j = 0; j < t; j++)
                    if (m.Get(passive + j) != 0) m.Set(x + j, m.Get(x + j) + step * (m.Get(z + j) - m.Get(x + j)));
                if (step >= 1.0) break;
                for (int j = 0; j < t; j++)
                    if (m.Get(passive + j) != 0 && !(m.Get(x + j) > 0))
                    {
                        m.Set(x + j, 0.0);
                        m.Set(passive + j, 0.0);
                    }
            }
        }
    }

    /// <summary>z_P = −G_PP⁻¹c_P on the passive set P (Cholesky), z = 0 elsewhere; false when G_PP is not positive definite.</summary>
    private static bool SolvePassive<TMemory>(TMemory m, int t) where TMemory : struct, ICombinationMemory
    {
        int factor = t * t, x = 2 * t * t, z = x + t, c = z + t, passive = c + t, index = passive + t;
        int p = 0;
        for (int j = 0; j < t; j++)
        {
            m.Set(z + j, 0.0);
            if (m.Get(passive + j) != 0) { m.Set(index + p, j); p++; }
        }
        for (int a = 0; a < p; a++)
        {
            int ia = (int)m.Get(index + a);
            for (int b = 0; b <= a; b++)
            {
                int ib = (int)m.Get(index + b);
                double s = m.Get(ia * t + ib);
                for (int k = 0; k < b; k++) s -= m.Get(factor + a * t + k) * m.Get(factor + b * t + k);
                if (a == b)
                {
                    if (!(s > 0)) return false;
                    m.Set(factor + a * t + a, Math.Sqrt(s));
                }
                else m.Set(factor + a * t + b, s / m.Get(factor + b * t + b));
            }
        }
        // L y = −c_P (y kept in z at the passive indices' order positions, then Lᵀ z = y).
        for (int a = 0; a < p; a++)
        {
            double s = -m.Get(c + (int)m.Get(index + a));
            for (int k = 0; k < a; k++) s -= m.Get(factor + a * t + k) * m.Get(z + (int)m.Get(index + k));
            m.Set(z + (int)m.Get(index + a), s / m.Get(factor + a * t + a));
        }
        for (int a = p - 1; a >= 0; a--)
        {
            double s = m.Get(z + (int)m.Get(index + a));
            for (int k = a + 1; k < p; k++) s -= m.Get(factor + k * t + a) * m.Get(z + (int)m.Get(index + k));
            m.Set(z + (int)m.Get(index + a), s / m.Get(factor + a * t + a));
        }
        return true;
    }
}
