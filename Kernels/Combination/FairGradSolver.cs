namespace Engine.Kernels;

/// <summary>
/// FairGrad's coefficients (Ban &amp; Ji 2024, "Fair Resource Allocation in Multi-Task Learning", ICML; reference code
/// OptMN-Lab/fairgrad, LibMTL <c>FairGrad</c>) from the Gram matrix alone, in float64. The α-fair update is Σᵢ βᵢg̃ᵢ with
/// β &gt; 0 solving G̃β = β^(−1/α) (elementwise; g̃ᵢ = wᵢgᵢ, G̃ their Gram matrix). That equation is the stationarity
/// condition of the strictly convex f(β) = ½βᵀG̃β − Σᵢ φ(βᵢ) on β &gt; 0, with φ'(b) = b^(−1/α): φ(b) = log b for α = 1,
/// else b^p/p with p = 1 − 1/α (∇f = G̃β − β^(−1/α), ∇²f = G̃ + diag(β^(−1/α−1)/α) ≻ 0); its unique minimiser is found by
/// Newton's method on f (Cholesky), in place of the reference's <c>scipy.optimize.least_squares</c> on the residual
/// G̃β − β^(−1/α) from β = 1/T. The start is the exact solution for orthogonal gradients, βᵢ = G̃ᵢᵢ^(−α/(1+α)), and
/// after every damped step β is rescaled along its ray to f's minimiser there, β ← β·(S/βᵀG̃β)^(α/(1+α)) with
/// S = Σ βᵢ^p (then βᵀG̃β = S, as at the solution). Damped steps: the longest step that keeps β &gt; 0 (×0.99), halved until
/// f falls by ¼·s·λ² (Armijo; λ² = −∇f·d the Newton decrement). Once λ² &lt; S/16 full Newton steps are taken (when they
/// keep β &gt; 0); the iteration stops when λ² ≤ 10⁻²⁴·S or stops shrinking (rounding reached). S is f's scale: scaling
/// G̃ by c scales β by c^(−α/(1+α)) and f, λ² and S alike, so every test is scale-invariant. For α = 1 this is
/// Nash-MTL's equation (<see cref="NashMtlSolver"/>). This code is the readable reference and the kernel.
/// <para>Degenerate input as <see cref="NashMtlSolver"/>: a task with G̃ᵢᵢ ≤ 10⁻²⁰·maxⱼ G̃ⱼⱼ is left out (βᵢ = 0);
/// when some non-negative combination of the gradients vanishes (Pareto-stationary) no β exists, the iteration does not
/// converge in <c>maxIterations</c>, and the update is 0.</para>
/// Workspace (float64, T = count): [0, T²) G̃; [T², 2T²) the active tasks' n×n Gram A; [2T², 3T²) ∇²f and its Cholesky
/// factor; then β (active), ∇f, d, the trial point, the active tasks' indices and β over all tasks (T each).
/// Maths: docs/maths.md §18.13.
/// </summary>
public static class FairGradSolver
{
    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 3 * count * count + 6 * count;

    /// <summary>Writes the coefficients aₖ = wₖβₖ (0 when no β converges).</summary>
    public static void Solve<TMemory>(TMemory m, int count, double alpha, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int t = count, x = 3 * t * t, index = x + 4 * t, beta = index + t;
        CombinationSolver.WeightGram(m, t);
        int n = FairNewton.SelectActiveTasks(m, t, beta);
        if (n > 0 && Newton(m, t, n, new AlphaFairUtility(alpha), alpha, maxIterations))
            for (int k = 0; k < n; k++) m.Set(beta + (int)m.Get(index + k), m.Get(x + k));
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>Newton's method on f over the n active tasks; β at [3T², 3T² + n). False when it does not converge.</summary>
    private static bool Newton<TMemory>(TMemory m, int t, int n, AlphaFairUtility u, double alpha, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, x = 3 * t * t, dir = x + 2 * t;
        for (int p = 0; p < n; p++) m.Set(x + p, DeviceMath.Exp(-DeviceMath.Log(m.Get(a + p * n + p)) * alpha / (1 + alpha)));
        if (!FairNewton.RescaleAlongTheRay(m, t, n, u)) return false;
        double previous = double.PositiveInfinity;
        bool quadratic = false;
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            double scale = 0;
            for (int p = 0; p < n; p++) scale += m.Get(x + p) * u.Marginal(m.Get(x + p));
            double decrement = FairNewton.Direction(m, t, n, u);
            if (!(decrement >= 0) || double.IsInfinity(decrement)) return false;
            bool inside = true;
            for (int p = 0; p < n; p++)
                if (!(m.Get(x + p) + m.Get(dir + p) > 0)) inside = false;
            if (decrement < scale / 16 && inside)
            {
                for (int p = 0; p < n; p++) m.Set(x + p, m.Get(x + p) + m.Get(dir + p));
                if (decrement <= 1e-24 * scale || (quadratic && decrement > 0.5 * previous)) return true;
                quadratic = true;
                previous = decrement;
                continue;
            }
            quadratic = false;
            previous = decrement;
            if (!FairNewton.DampedStep(m, t, n, u, decrement) || !FairNewton.RescaleAlongTheRay(m, t, n, u)) return false;
        }
        return false;
    }
}
