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
        double maxDiagonal = 0;
        for (int i = 0; i < t; i++)
            if (m.Get(i * t + i) > maxDiagonal) maxDiagonal = m.Get(i * t + i);
        int n = 0;
        for (int i = 0; i < t; i++)
        {
            m.Set(beta + i, 0.0);
            double d = m.Get(i * t + i);
            if (d > 0 && d > 1e-20 * maxDiagonal) { m.Set(index + n, i); n++; }
        }
        if (n > 0 && Newton(m, t, n, alpha, maxIterations))
            for (int k = 0; k < n; k++) m.Set(beta + (int)m.Get(index + k), m.Get(x + k));
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>b^(−1/α).</summary>
    private static double Power(double b, double alpha) => alpha == 1 ? 1.0 / b : DeviceMath.Exp(-DeviceMath.Log(b) / alpha);

    /// <summary>φ(b): log b for α = 1, else b^p/p (p = 1 − 1/α).</summary>
    private static double Utility(double b, double alpha)
    {
        if (alpha == 1) return DeviceMath.Log(b);
        double p = 1 - 1 / alpha;
        return b * Power(b, alpha) / p;
    }

    /// <summary>Newton's method on f over the n active tasks; β at [3T², 3T² + n). False when it does not converge.</summary>
    private static bool Newton<TMemory>(TMemory m, int t, int n, double alpha, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, x = 3 * t * t, dir = x + 2 * t;
        for (int p = 0; p < n; p++)
        {
            int i = (int)m.Get(x + 4 * t + p);
            for (int r = 0; r < n; r++) m.Set(a + p * n + r, m.Get(i * t + (int)m.Get(x + 4 * t + r)));
            m.Set(x + p, DeviceMath.Exp(-DeviceMath.Log(m.Get(a + p * n + p)) * alpha / (1 + alpha)));
        }
        if (!RescaleAlongTheRay(m, t, n, alpha)) return false;
        double previous = double.PositiveInfinity;
        bool quadratic = false;
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            double scale = 0;
            for (int p = 0; p < n; p++) scale += m.Get(x + p) * Power(m.Get(x + p), alpha);
            double decrement = NewtonDirection(m, t, n, alpha);
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
            if (!DampedStep(m, t, n, alpha, decrement) || !RescaleAlongTheRay(m, t, n, alpha)) return false;
        }
        return false;
    }

    /// <summary>∇f = Aβ − β^(−1/α) at [x + T, …), ∇²f = A + diag(β^(−1/α−1)/α) Cholesky-factored at [2T², …),
    /// d = −∇²f⁻¹∇f at [x + 2T, …); returns λ² = −∇f·d (NaN when a pivot is not positive).</summary>
    private static double NewtonDirection<TMemory>(TMemory m, int t, int n, double alpha) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, h = 2 * t * t, x = 3 * t * t, grad = x + t, dir = grad + t;
        for (int p = 0; p < n; p++)
        {
            double ax = 0, xp = m.Get(x + p), power = Power(xp, alpha);
            for (int r = 0; r < n; r++) ax += m.Get(a + p * n + r) * m.Get(x + r);
            m.Set(grad + p, ax - power);
            for (int r = 0; r < n; r++) m.Set(h + p * n + r, m.Get(a + p * n + r) + (p == r ? power / (alpha * xp) : 0.0));
        }
        return NewtonSystem.Solve(m, n, h, grad, dir);
    }

    /// <summary>f at the point stored at <paramref name="at"/> (+∞ outside β &gt; 0).</summary>
    private static double Objective<TMemory>(TMemory m, int t, int n, double alpha, int at) where TMemory : struct, ICombinationMemory
    {
        int a = t * t;
        double f = 0;
        for (int p = 0; p < n; p++)
        {
            double xp = m.Get(at + p);
            if (!(xp > 0)) return double.PositiveInfinity;
            double ax = 0;
            for (int r = 0; r < n; r++) ax += m.Get(a + p * n + r) * m.Get(at + r);
            f += 0.5 * xp * ax - Utility(xp, alpha);
        }
        return f;
    }

    /// <summary>The damped step: s = min(1, 0.99 × the largest that keeps β &gt; 0), halved until f(β + s·d) ≤
    /// f(β) − ¼·s·λ²; false when 60 halvings do not get there.</summary>
    private static bool DampedStep<TMemory>(TMemory m, int t, int n, double alpha, double decrement) where TMemory : struct, ICombinationMemory
    {
        int x = 3 * t * t, dir = x + 2 * t, trial = x + 3 * t;
        double s = 1.0;
        for (int p = 0; p < n; p++)
        {
            double dp = m.Get(dir + p);
            if (dp < 0 && -0.99 * m.Get(x + p) / dp < s) s = -0.99 * m.Get(x + p) / dp;
        }
        double f0 = Objective(m, t, n, alpha, x);
        for (int halving = 0; halving < 60; halving++)
        {
            for (int p = 0; p < n; p++) m.Set(trial + p, m.Get(x + p) + s * m.Get(dir + p));
            if (Objective(m, t, n, alpha, trial) <= f0 - 0.25 * s * decrement)
            {
                for (int p = 0; p < n; p++) m.Set(x + p, m.Get(trial + p));
                return true;
            }
            s *= 0.5;
        }
        return false;
    }

    /// <summary>β ← c·β with c = (S/βᵀAβ)^(α/(1+α)), S = Σ βᵢ^p: the minimiser of f along the ray through β; false when
    /// βᵀAβ is not positive (a vanishing non-negative combination) or not finite.</summary>
    private static bool RescaleAlongTheRay<TMemory>(TMemory m, int t, int n, double alpha) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, x = 3 * t * t;
        double q = 0, s = 0;
        for (int p = 0; p < n; p++)
        {
            s += m.Get(x + p) * Power(m.Get(x + p), alpha);
            for (int r = 0; r < n; r++) q += m.Get(x + p) * m.Get(a + p * n + r) * m.Get(x + r);
        }
        if (!(q > 0) || double.IsInfinity(q) || !(s > 0) || double.IsInfinity(s)) return false;
        double c = DeviceMath.Exp(DeviceMath.Log(s / q) * alpha / (1 + alpha));
        for (int p = 0; p < n; p++) m.Set(x + p, c * m.Get(x + p));
        return true;
    }
}
