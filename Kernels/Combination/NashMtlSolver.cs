namespace Engine.Kernels;

/// <summary>
/// Nash-MTL's coefficients (Navon et al. 2022, "Multi-Task Learning as a Bargaining Game", ICML; reference code
/// AvivNavon/nash-mtl <c>NashMTL</c>, LibMTL <c>Nash_MTL</c>) from the Gram matrix alone, in float64. The Nash bargaining
/// direction is Σᵢ αᵢg̃ᵢ with α &gt; 0 solving G̃α = 1/α (the paper's Claim 3.1; g̃ᵢ = wᵢgᵢ, G̃ their Gram matrix). That
/// equation is the stationarity condition of the strictly convex f(α) = ½αᵀG̃α − Σᵢ log αᵢ on α &gt; 0 (∇f = G̃α − 1/α,
/// ∇²f = G̃ + diag(1/α²) ≻ 0), so its solution is f's unique minimiser; it is found by Newton's method on f:
/// Newton step d = −∇²f⁻¹∇f (Cholesky), decrement λ² = −∇f·d. While λ ≥ ¼ the step is damped — the longest step that
/// keeps α &gt; 0 (×0.99), halved until f falls by ¼·t·λ² (Armijo) — and α is then rescaled along its ray to the exact
/// minimiser of f there, α ← α·√(n/αᵀG̃α) (n active tasks; it also starts the iteration, from αᵢ = 1/√G̃ᵢᵢ, exact for
/// orthogonal gradients). Below λ = ¼ full Newton steps converge quadratically (f is self-concordant); the iteration stops
/// when λ² ≤ 10⁻²⁴ or stops halving (rounding reached). Every test is affine-invariant: scaling the gradients changes
/// the iterations not at all. This code is the readable reference and the kernel (host, single-thread ILGPU kernel).
/// <para>Degenerate input: a task with G̃ᵢᵢ = 0 or ≤ 10⁻²⁰·maxⱼ G̃ⱼⱼ (no label in the batch, weight 0) has no factor in
/// the Nash product (g̃ᵢ·d = 0 for every d) and is left out (αᵢ = 0, the others solved); dependent gradients with no
/// non-negative combination equal to 0 (e.g. two equal ones) keep ∇²f ≻ 0 and a unique solution; when some
/// non-negative combination of the gradients vanishes (the point is Pareto-stationary: no direction improves every task)
/// f is unbounded below, no α exists, and the iteration does not converge in <c>maxIterations</c> (or a Cholesky pivot
/// or αᵀG̃α vanishes): then the update is the disagreement point, 0.</para>
/// <para>Then the reference's <c>clip_grad_norm_(shared, max_norm)</c>: the update's norm √(βᵀG̃β) (= √n at the
/// solution) is scaled by min(1, maxNorm/(norm + 10⁻⁶)) when maxNorm &gt; 0. With <c>update</c> false the α of the last
/// solve are reused (the reference's <c>update_weights_every</c>) and only the clipping is recomputed.</para>
/// Workspace (float64, T = count): [0, T²) G̃; [T², 2T²) the active tasks' n×n Gram A (stride n); [2T², 3T²) ∇²f and its
/// Cholesky factor (stride n); then α, ∇f, d, the trial point, the active tasks' indices, β and the last solve's β (T each).
/// Maths: docs/maths.md §18.12.
/// </summary>
public static class NashMtlSolver
{
    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 3 * count * count + 7 * count;

    /// <summary>Offset of the last solve's β (the state <c>update = false</c> reuses; zero it once).</summary>
    public static int StateOffset(int count) => 3 * count * count + 6 * count;

    /// <summary>The reference's ε in <c>clip_grad_norm_</c>: max_norm/(norm + 1e-6).</summary>
    public const double ClipEpsilon = 1e-6;

    /// <summary>Writes the coefficients aₖ = wₖβₖ: β = α (solved when <paramref name="update"/>, else the last solve's),
    /// clipped to <paramref name="maxNorm"/> (none when ≤ 0).</summary>
    public static void Solve<TMemory>(TMemory m, int count, int maxIterations, double maxNorm, bool update)
        where TMemory : struct, ICombinationMemory
    {
        int t = count, x = 3 * t * t, index = x + 4 * t, beta = index + t, state = beta + t;
        CombinationSolver.WeightGram(m, t);
        if (update)
        {
            int n = FairNewton.SelectActiveTasks(m, t, state);
            if (n > 0 && Newton(m, t, n, maxIterations))
                for (int k = 0; k < n; k++) m.Set(state + (int)m.Get(index + k), m.Get(x + k));
        }
        double q = 0;
        for (int i = 0; i < t; i++)
        {
            m.Set(beta + i, m.Get(state + i));
            for (int j = 0; j < t; j++) q += m.Get(state + i) * m.Get(i * t + j) * m.Get(state + j);
        }
        double norm = q > 0 ? Math.Sqrt(q) : 0.0;
        double clip = maxNorm > 0 ? maxNorm / (norm + ClipEpsilon) : 1.0;
        if (clip < 1)
            for (int i = 0; i < t; i++) m.Set(beta + i, clip * m.Get(beta + i));
        CombinationSolver.WriteCoefficients(m, t, beta);
    }

    /// <summary>Newton's method on f(α) = ½αᵀAα − Σ log αᵢ over the n active tasks (A at [T², T² + n²)); α at
    /// [3T², 3T² + n). False when it does not converge (no solution: Pareto-stationary, or numerically so).</summary>
    private static bool Newton<TMemory>(TMemory m, int t, int n, int maxIterations) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, x = 3 * t * t, dir = x + 2 * t;
        var log = new LogUtility();
        for (int p = 0; p < n; p++) m.Set(x + p, 1.0 / Math.Sqrt(m.Get(a + p * n + p)));
        if (!FairNewton.RescaleAlongTheRay(m, t, n, log)) return false;
        double previous = double.PositiveInfinity;
        bool quadratic = false;
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            double decrement = FairNewton.Direction(m, t, n, log);
            if (!(decrement >= 0) || double.IsInfinity(decrement)) return false;
            if (decrement < 1.0 / 16)
            {
                // Quadratic phase: a full step (inside the Dikin ellipsoid, so α stays positive). Exact arithmetic shrinks
                // λ² by ≥ 80× a step here; no shrinking at all means rounding is reached.
                for (int p = 0; p < n; p++) m.Set(x + p, m.Get(x + p) + m.Get(dir + p));
                if (decrement <= 1e-24 || (quadratic && decrement > 0.5 * previous)) return true;
                quadratic = true;
                previous = decrement;
                continue;
            }
            quadratic = false;
            previous = decrement;
            if (!FairNewton.DampedStep(m, t, n, log, decrement) || !FairNewton.RescaleAlongTheRay(m, t, n, log)) return false;
        }
        return false;
    }
}
