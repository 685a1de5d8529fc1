namespace Engine.Kernels;

/// <summary>
/// The utility φ in f(x) = ½xᵀAx − Σᵢ φ(xᵢ) on x &gt; 0, the objective whose minimiser solves Ax = φ'(x): Nash-MTL's
/// bargaining equation for φ = log (<see cref="LogUtility"/>), FairGrad's α-fair one for φ'(b) = b^(−1/α)
/// (<see cref="AlphaFairUtility"/>). φ is increasing and strictly concave, so f is strictly convex.
/// </summary>
public interface IFairUtility
{
    /// <summary>φ(x).</summary>
    double Value(double x);
    /// <summary>φ'(x).</summary>
    double Marginal(double x);
    /// <summary>−φ''(x) &gt; 0, given <paramref name="marginal"/> = φ'(x).</summary>
    double Curvature(double x, double marginal);
    /// <summary>The c &gt; 0 that minimises f(c·x), given S = Σᵢ xᵢφ'(xᵢ), q = xᵀAx and the number n of coordinates.</summary>
    double RayScale(double s, double q, int n);
}

/// <summary>φ = log: f(cx) = ½c²q − n·log c − Σ log xᵢ is least at c = √(n/q) (Nash-MTL, §18.12).</summary>
public readonly struct LogUtility : IFairUtility
{
    /// <inheritdoc/>
    public double Value(double x) => DeviceMath.Log(x);
    /// <inheritdoc/>
    public double Marginal(double x) => 1.0 / x;
    /// <inheritdoc/>
    public double Curvature(double x, double marginal) => 1.0 / (x * x);
    /// <inheritdoc/>
    public double RayScale(double s, double q, int n) => Math.Sqrt(n / q);
}

/// <summary>
/// φ'(b) = b^(−1/α): φ = log b for α = 1, else b^p/p with p = 1 − 1/α; −φ'' = b^(−1/α−1)/α. Along a ray f(cx) =
/// ½c²q − c^p·S/p is least at c = (S/q)^(α/(1+α)) (FairGrad, §18.13).
/// </summary>
public readonly struct AlphaFairUtility(double alpha) : IFairUtility
{
    private readonly double _alpha = alpha;

    /// <inheritdoc/>
    public double Value(double x) => _alpha == 1 ? DeviceMath.Log(x) : x * Marginal(x) / (1 - 1 / _alpha);
    /// <inheritdoc/>
    public double Marginal(double x) => _alpha == 1 ? 1.0 / x : DeviceMath.Exp(-DeviceMath.Log(x) / _alpha);
    /// <inheritdoc/>
    public double Curvature(double x, double marginal) => marginal / (_alpha * x);
    /// <inheritdoc/>
    public double RayScale(double s, double q, int n) => DeviceMath.Exp(DeviceMath.Log(s / q) * _alpha / (1 + _alpha));
}

/// <summary>
/// The pieces of Newton's method on f(x) = ½xᵀAx − Σ φ(xᵢ) that Nash-MTL (<see cref="NashMtlSolver"/>) and FairGrad
/// (<see cref="FairGradSolver"/>) share; each solver keeps its own start and its own tests of the decrement. Both use one
/// float64 workspace layout (T = count): [0, T²) G̃; [T², 2T²) the active tasks' n×n Gram A (stride n); [2T², 3T²) ∇²f and
/// its Cholesky factor; from x = 3T²: the iterate, ∇f, d, the trial point and the active tasks' indices (T each).
/// Maths: docs/maths.md §18.12–18.13.
/// </summary>
public static class FairNewton
{
    /// <summary>Zeroes [<paramref name="zeroed"/>, +T), lists at [3T² + 4T, …) the tasks with G̃ᵢᵢ &gt; 10⁻²⁰·maxⱼ G̃ⱼⱼ (and
    /// &gt; 0; the others have no gradient in the batch and are left out), copies their Gram to A; returns their number n.</summary>
    public static int SelectActiveTasks<TMemory>(TMemory m, int t, int zeroed) where TMemory : struct, ICombinationMemory
    {
        int a = t * t, index = 3 * t * t + 4 * t;
        double maxDiagonal = 0;
        for (int i = 0; i < t; i++)
            if (m.Get(i * t + i) > maxDiagonal) maxDiagonal = m.Get(i * t + i);
        int n = 0;
        for (int i = 0; i < t; i++)
        {
            m.Set(zeroed + i, 0.0);
            double d = m.Get(i * t + i);
            if (d > 0 && d > 1e-20 * maxDiagonal) { m.Set(index + n, i); n++; }
        }
        for (int p = 0; p < n; p++)
        {
            int i = (int)m.Get(index + p);
            for (int r = 0; r < n; r++) m.Set(a + p * n + r, m.Get(i * t + (int)m.Get(index + r)));
        }
        return n;
    }

    /// <summary>∇f = Ax − φ'(x) at [x + T, …), ∇²f = A + diag(−φ''(x)) Cholesky-factored at [2T², …), d = −∇²f⁻¹∇f at
    /// [x + 2T, …); returns the decrement λ² = −∇f·d (NaN when a pivot is not positive).</summary>
    public static double Direction<TMemory, TUtility>(TMemory m, int t, int n, TUtility u)
        where TMemory : struct, ICombinationMemory where TUtility : struct, IFairUtility
    {
        int a = t * t, h = 2 * t * t, x = 3 * t * t, grad = x + t, dir = grad + t;
        for (int p = 0; p < n; p++)
        {
            double ax = 0, xp = m.Get(x + p), marginal = u.Marginal(xp);
            for (int r = 0; r < n; r++) ax += m.Get(a + p * n + r) * m.Get(x + r);
            m.Set(grad + p, ax - marginal);
            for (int r = 0; r < n; r++) m.Set(h + p * n + r, m.Get(a + p * n + r) + (p == r ? u.Curvature(xp, marginal) : 0.0));
        }
        return NewtonSystem.Solve(m, n, h, grad, dir);
    }

    /// <summary>f at the point stored at <paramref name="at"/> (+∞ outside x &gt; 0).</summary>
    public static double Objective<TMemory, TUtility>(TMemory m, int t, int n, TUtility u, int at)
        where TMemory : struct, ICombinationMemory where TUtility : struct, IFairUtility
    {
        int a = t * t;
        double f = 0;
        for (int p = 0; p < n; p++)
        {
            double xp = m.Get(at + p);
            if (!(xp > 0)) return double.PositiveInfinity;
            double ax = 0;
            for (int r = 0; r < n; r++) ax += m.Get(a + p * n + r) * m.Get(at + r);
            f += 0.5 * xp * ax - u.Value(xp);
        }
        return f;
    }

    /// <summary>The damped step: s = min(1, 0.99 × the largest that keeps x &gt; 0), halved until f(x + s·d) ≤
    /// f(x) − ¼·s·λ² (Armijo); false when 60 halvings do not get there.</summary>
    public static bool DampedStep<TMemory, TUtility>(TMemory m, int t, int n, TUtility u, double decrement)
        where TMemory : struct, ICombinationMemory where TUtility : struct, IFairUtility
    {
        int x = 3 * t * t, dir = x + 2 * t, trial = x + 3 * t;
        double s = 1.0;
        for (int p = 0; p < n; p++)
        {
            double dp = m.Get(dir + p);
            if (dp < 0 && -0.99 * m.Get(x + p) / dp < s) s = -0.99 * m.Get(x + p) / dp;
        }
        double f0 = Objective(m, t, n, u, x);
        for (int halving = 0; halving < 60; halving++)
        {
            for (int p = 0; p < n; p++) m.Set(trial + p, m.Get(x + p) + s * m.Get(dir + p));
            if (Objective(m, t, n, u, trial) <= f0 - 0.25 * s * decrement)
            {
                for (int p = 0; p < n; p++) m.Set(x + p, m.Get(trial + p));
                return true;
            }
            s *= 0.5;
        }
        return false;
    }

    /// <summary>x ← c·x, the minimiser of f along the ray through x (<see cref="IFairUtility.RayScale"/>); false when xᵀAx
    /// is not positive (a vanishing non-negative combination) or not finite.</summary>
    public static bool RescaleAlongTheRay<TMemory, TUtility>(TMemory m, int t, int n, TUtility u)
        where TMemory : struct, ICombinationMemory where TUtility : struct, IFairUtility
    {
        int a = t * t, x = 3 * t * t;
        double q = 0, s = 0;
        for (int p = 0; p < n; p++)
        {
            s += m.Get(x + p) * u.Marginal(m.Get(x + p));
            for (int r = 0; r < n; r++) q += m.Get(x + p) * m.Get(a + p * n + r) * m.Get(x + r);
        }
        if (!(q > 0) || double.IsInfinity(q) || !(s > 0) || double.IsInfinity(s)) return false;
        double c = u.RayScale(s, q, n);
        for (int p = 0; p < n; p++) m.Set(x + p, c * m.Get(x + p));
        return true;
    }
}
