namespace Engine.Kernels;

/// <summary>
/// Aligned-MTL's coefficients (Senushkin et al. 2023, "Independent Component Alignment for Multi-Task Learning", CVPR;
/// reference code SamsungLabs/MTL <c>ProcrustesSolver</c>, LibMTL <c>Aligned_MTL</c>) from the Gram matrix alone, in
/// float64. With the weighted gradients G̃ = [wᵢgᵢ] (T × P) and the eigen-decomposition G̃G̃ᵀ = VΛVᵀ (cyclic Jacobi),
/// the eigenvalues above tol = λ_max·T·2⁻²³ kept (the reference's rank test with <c>torch.finfo()</c>'s float32 ε),
/// the aligned gradient matrix is Ĝ = B·G̃ with B = σ·V_r Λ_r^{-1/2} V_rᵀ — the orthogonal (Procrustes) factor of G̃
/// scaled by σ, so ĜĜᵀ = σ²·V_rV_rᵀ (σ²·I at full rank: condition number 1) — and the update is the sum of its rows,
/// Σₖ αₖg̃ₖ with α = Bᵀ1 (B is symmetric). σ = √λ_min (scale <c>min</c>: LibMTL's and the paper's), √median λ
/// (<c>median</c>, the lower middle one as <c>torch.median</c>) or √mean λ (<c>rmse</c>). This code is the readable
/// reference and the kernel at once (host, and a single-thread ILGPU kernel).
/// <para>Workspace (float64, T = count): [0, T²) G̃, then Λ on its diagonal after Jacobi; [T², 2T²) V; [2T², 3T²) B;
/// then the kept eigenvalues sorted (T) and β (T). All-zero gradients (nothing kept) give 0.</para>
/// Maths: docs/maths.md §18.7.
/// </summary>
public static class AlignedMtlSolver
{
    /// <summary>σ = √λ_min (the paper, LibMTL).</summary>
    public const int ScaleMin = 0;
    /// <summary>σ = √(median λ) (the reference code's <c>median</c>).</summary>
    public const int ScaleMedian = 1;
    /// <summary>σ = √(mean λ) (the reference code's <c>rmse</c>).</summary>
    public const int ScaleRmse = 2;

    /// <summary>The relative rank threshold's ε: float32's machine epsilon, as the reference's <c>torch.finfo().eps</c>.</summary>
    public const double RankEpsilon = 1.1920928955078125e-7;

    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 3 * count * count + 2 * count;

    /// <summary>Writes the coefficients aₖ = wₖαₖ; <paramref name="scale"/> is one of the Scale constants.</summary>
    public static void Solve<TMemory>(TMemory m, int count, int scale, int maxSweeps) where TMemory : struct, ICombinationMemory
    {
        int t = count, v = t * t, b = 2 * t * t, kept = 3 * t * t, beta = kept + t;
        CombinationSolver.WeightGram(m, t);
        Jacobi(m, t, maxSweeps);

        double largest = 0;
        for (int i = 0; i < t; i++)
            if (m.Get(i * t + i) > largest) largest = m.Get(i * t + i);
        double tol = largest * t * RankEpsilon;
        int rank = 0;
        for (int i = 0; i < t; i++)
        {
            double lambda = m.Get(i * t + i);
            if (!(lambda > tol)) continue;
            // Insertion into the sorted list of kept eigenvalues (ascending).
            int at = rank;
            while (at > 0 && m.Get(kept + at - 1) > lambda)
            {
                m.Set(kept + at, m.Get(kept + at - 1));
                at--;
            }
            m.Set(kept + at, lambda);
            rank++;
        }
        double sigma2 = 0;
        if (rank > 0)
        {
            if (scale == ScaleMedian) sigma2 = m.Get(kept + (rank - 1) / 2);
            else if (scale == ScaleRmse)
            {
                for (int i = 0; i < rank; i++) sigma2 += m.Get(kept + i);
                sigma2 /= rank;
            }
            else sigma2 = m.Get(kept);
        }
        double sigma = Math.Sqrt(sigma2);

        // B = σ·Σ_{r kept} v_r v_rᵀ/√λ_r, α = B·1.
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++)
            {
                double bij = 0;
                for (int r = 0; r < t; r++)
                {
                    double lambda = m.Get(r * t + r);
                    if (lambda > tol) bij += m.Get(v + i * t + r) * m.Get(v + j * t + r) / Math.Sqrt(lambda);
                }
                m.Set(b + i * t + j, sigma * bij);
            }
        for (int i = 0; i < t; i++)
        {
            double sum = 0;
            for (int j = 0; j < t; j++) sum += m.Get(b + j * t + i);
            m.Set(beta + i, sum);
        }
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>
    /// Cyclic Jacobi on the symmetric matrix at [0, T²) (Golub &amp; Van Loan §8.5): sweeps over the pairs p &lt; q, each a
    /// rotation A ← JᵀAJ that zeroes A_pq (θ = (A_qq − A_pp)/(2A_pq), t = sign θ/(|θ| + √(θ² + 1)), c = 1/√(t² + 1), s = tc),
    /// V ← VJ accumulating the eigenvectors (columns of V at [T², 2T²)); stops when the off-diagonal squares sum to at
    /// most 10⁻³⁰ × the matrix's (relative, so any scale takes the same sweeps) or after <paramref name="maxSweeps"/>.
    /// </summary>
    public static void Jacobi<TMemory>(TMemory m, int t, int maxSweeps) where TMemory : struct, ICombinationMemory
    {
        int v = t * t;
        double total = 0;
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++)
            {
                m.Set(v + i * t + j, i == j ? 1.0 : 0.0);
                total += m.Get(i * t + j) * m.Get(i * t + j);
            }
        for (int sweep = 0; sweep < maxSweeps; sweep++)
        {
            double off = 0;
            for (int i = 0; i < t; i++)
                for (int j = 0; j < t; j++)
                    if (i != j) off += m.Get(i * t + j) * m.Get(i * t + j);
            if (!(off > 1e-30 * total)) return;
            for (int p = 0; p < t - 1; p++)
                for (int q = p + 1; q < t; q++)
                {
                    double apq = m.Get(p * t + q);
                    if (apq == 0) continue;
                    double theta = (m.Get(q * t + q) - m.Get(p * t + p)) / (2 * apq);
                    double tan = Math.Abs(theta) > 1e150 ? 0.5 / theta
                        : (theta >= 0 ? 1.0 : -1.0) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(tan * tan + 1), s = tan * c;
                    for (int k = 0; k < t; k++)
                    {
                        double akp = m.Get(k * t + p), akq = m.Get(k * t + q);
                        m.Set(k * t + p, c * akp - s * akq);
                        m.Set(k * t + q, s * akp + c * akq);
                    }
                    for (int k = 0; k < t; k++)
                    {
                        double apk = m.Get(p * t + k), aqk = m.Get(q * t + k);
                        m.Set(p * t + k, c * apk - s * aqk);
                        m.Set(q * t + k, s * apk + c * aqk);
                    }
                    for (int k = 0; k < t; k++)
                    {
                        double vkp = m.Get(v + k * t + p), vkq = m.Get(v + k * t + q);
                        m.Set(v + k * t + p, c * vkp - s * vkq);
                        m.Set(v + k * t + q, s * vkp + c * vkq);
                    }
                }
        }
    }
}
