namespace Engine.Kernels;

/// <summary>
/// What the T×T combination solver reads and writes. The CPU path implements it over pointers and the
/// ILGPU path over array views, so <see cref="CombinationSolver"/> is written once and runs, unchanged,
/// on the host and as a single-thread ILGPU kernel. All solver arithmetic is float64.
/// </summary>
public interface ICombinationMemory
{
    /// <summary>Entry <paramref name="index"/> (row-major) of the count×count Gram matrix.</summary>
    double Gram(int index);
    /// <summary>The weight of task <paramref name="task"/>.</summary>
    double Weight(int task);
    /// <summary>Reads workspace element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes workspace element <paramref name="index"/>.</summary>
    void Set(int index, double value);
    /// <summary>Writes the output coefficient of task <paramref name="task"/>.</summary>
    void SetCoefficient(int task, double value);
}

/// <summary>The blittable form of <see cref="CombinationSettings"/> handed to the kernels (ints and doubles only).</summary>
public readonly struct SolverParameters
{
    public readonly int Method, Reduction, ReferenceTask, Rescale, MaxIterations;
    public readonly double C, Tolerance, ZeroNormSquared;
    public readonly int Seed;

    public SolverParameters(CombinationSettings s, int seed)
    {
        Method = (int)s.Method;
        Reduction = (int)s.Reduction;
        ReferenceTask = s.ReferenceTask;
        Rescale = (int)s.Rescale;
        MaxIterations = s.MaxIterations;
        C = s.C;
        Tolerance = s.Tolerance;
        ZeroNormSquared = s.ZeroNormSquared;
        Seed = seed;
    }
}

/// <summary>
/// The combination coefficients of every method, from the Gram matrix alone (docs/maths.md §14).
/// The methods act on the weighted gradients g̃ᵢ = wᵢgᵢ, whose Gram matrix is G̃ᵢⱼ = wᵢwⱼGᵢⱼ; each finds β with
/// combined gradient Σₖ βₖ g̃ₖ, and the output coefficients are aₖ = wₖβₖ (so the result is Σₖ aₖ gₖ).
/// Workspace layout (float64, T = count): [0, T²) G̃; [T², 2T²) PCGrad's coefficient matrix C;
/// then four T-vectors: β (also Frank–Wolfe's α), h = G̃α, u (CAGrad's linear term), and PCGrad's order; then PCGrad's step
/// count s (<see cref="StepsOffset"/>, its state between steps: the caller zeroes it once; the other methods leave it alone).
/// Plain loops and scalar locals only: this code is compiled by ILGPU as a kernel (no Span, no allocation, no exceptions).
/// </summary>
public static class CombinationSolver
{
    /// <summary>Where PCGrad's step count s (steps solved so far, a whole float64) is in the workspace: its last element.</summary>
    public static int StepsOffset(int count) => 2 * count * count + 4 * count;

    /// <summary>Validates settings on the host (kernels do not throw).</summary>
    public static void Validate(CombinationSettings s, int count)
    {
        if (!Check.IsDefined(s.Method)) throw new ArgumentOutOfRangeException(nameof(s), s.Method, "Unknown combination method.");
        if (!Check.IsDefined(s.Reduction)) throw new ArgumentOutOfRangeException(nameof(s), s.Reduction, "Unknown PCGrad reduction.");
        if (!Check.IsDefined(s.Rescale)) throw new ArgumentOutOfRangeException(nameof(s), s.Rescale, "Unknown CAGrad rescale.");
        if ((uint)s.ReferenceTask >= (uint)count)
            throw new ArgumentOutOfRangeException(nameof(s), s.ReferenceTask, $"ReferenceTask must lie in [0, {count}).");
        if (!(s.C >= 0) || double.IsInfinity(s.C)) throw new ArgumentOutOfRangeException(nameof(s), s.C, "CAGrad's c must be finite and ≥ 0.");
        if (s.MaxIterations < 1) throw new ArgumentOutOfRangeException(nameof(s), s.MaxIterations, "MaxIterations must be positive.");
        if (!(s.Tolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(s), s.Tolerance, "Tolerance must be ≥ 0.");
        if (!(s.ZeroNormSquared >= 0)) throw new ArgumentOutOfRangeException(nameof(s), s.ZeroNormSquared, "ZeroNormSquared must be ≥ 0.");
    }

    /// <summary>Computes the coefficients into <see cref="ICombinationMemory.SetCoefficient"/>.</summary>
    public static void Solve<TMemory>(TMemory m, int count, SolverParameters p) where TMemory : struct, ICombinationMemory
    {
        int t = count;
        int beta = 2 * t * t;
        WeightGram(m, t);

        if (p.Method == (int)CombinationMethod.Projection) Projection(m, t, p);
        else if (p.Method == (int)CombinationMethod.PcGrad) PcGrad(m, t, p);
        else if (p.Method == (int)CombinationMethod.Mgda) FrankWolfe(m, t, p, false);
        else if (p.Method == (int)CombinationMethod.CaGrad) CaGrad(m, t, p);
        else for (int k = 0; k < t; k++) m.Set(beta + k, 1.0); // Sum

        WriteCoefficients(m, t, beta);
    }

    /// <summary>Workspace [0, T²) = G̃, G̃ᵢⱼ = wᵢwⱼGᵢⱼ: the Gram matrix of the weighted gradients (every Gram-based
    /// method's first step).</summary>
    public static void WeightGram<TMemory>(TMemory m, int t) where TMemory : struct, ICombinationMemory
    {
        for (int i = 0; i < t; i++)
            for (int j = 0; j < t; j++)
                m.Set(i * t + j, m.Weight(i) * m.Weight(j) * m.Gram(i * t + j));
    }

    /// <summary>The output coefficients aₖ = wₖβₖ from β at workspace offset <paramref name="beta"/> (the result
    /// Σₖ βₖ g̃ₖ = Σₖ aₖ gₖ).</summary>
    public static void WriteCoefficients<TMemory>(TMemory m, int t, int beta) where TMemory : struct, ICombinationMemory
    {
        for (int k = 0; k < t; k++) m.SetCoefficient(k, m.Weight(k) * m.Get(beta + k));
    }

    /// <summary>g̃ᵢ' = g̃ᵢ − (g̃ᵣ·g̃ᵢ/‖g̃ᵣ‖²)·g̃ᵣ for every i ≠ r (nothing when ‖g̃ᵣ‖² ≤ ZeroNormSquared), then Σᵢ g̃ᵢ':
    /// βᵢ = 1 for all i and βᵣ = 1 − Σ_{i≠r} G̃ᵣᵢ/G̃ᵣᵣ.</summary>
    private static void Projection<TMemory>(TMemory m, int t, SolverParameters p) where TMemory : struct, ICombinationMemory
    {
        int beta = 2 * t * t, r = p.ReferenceTask;
        for (int k = 0; k < t; k++) m.Set(beta + k, 1.0);
        double grr = m.Get(r * t + r);
        if (!(grr > p.ZeroNormSquared)) return;
        double betaR = 1.0;
        for (int i = 0; i < t; i++)
            if (i != r) betaR -= m.Get(r * t + i) / grr;
        m.Set(beta + r, betaR);
    }

    /// <summary>
    /// PCGrad on coefficient vectors: row i of C holds g̃ᵢ' = Σₖ Cᵢₖ g̃ₖ, starting at eᵢ. For each other task j, in a
    /// seeded random order: d = g̃ᵢ'·g̃ⱼ = Σₖ Cᵢₖ G̃ₖⱼ; on conflict (d &lt; 0, and ‖g̃ⱼ‖² &gt; ZeroNormSquared)
    /// Cᵢⱼ −= d/G̃ⱼⱼ. Then βₖ = scale·Σᵢ Cᵢₖ, scale 1 (sum) or 1/T (mean). The order of step s is drawn from
    /// <see cref="StepKey"/>(seed, s), s read from the workspace and counted here, on the device: the count is state a
    /// skipped step can put back and a checkpoint can save, with no host read.
    /// </summary>
    private static void PcGrad<TMemory>(TMemory m, int t, SolverParameters p) where TMemory : struct, ICombinationMemory
    {
        int c = t * t, beta = 2 * t * t, order = beta + 3 * t, steps = StepsOffset(t);
        double step = m.Get(steps);
        uint randomKey = StepKey(p.Seed, (long)step);
        m.Set(steps, step + 1);
        for (int i = 0; i < t; i++)
            for (int k = 0; k < t; k++) m.Set(c + i * t + k, i == k ? 1.0 : 0.0);

        for (int i = 0; i < t; i++)
        {
            int n = ShuffleOthers(m, t, i, order, randomKey);

            for (int o = 0; o < n; o++)
            {
                int j = (int)m.Get(order + o);
                double gjj = m.Get(j * t + j);
                if (!(gjj > p.ZeroNormSquared)) continue;
                double d = 0;
                for (int k = 0; k < t; k++) d += m.Get(c + i * t + k) * m.Get(k * t + j);
                if (d < 0) m.Set(c + i * t + j, m.Get(c + i * t + j) - d / gjj);
            }
        }

        double scale = p.Reduction == (int)PcGradReduction.Mean ? 1.0 / t : 1.0;
        for (int k = 0; k < t; k++)
        {
            double sum = 0;
            for (int i = 0; i < t; i++) sum += m.Get(c + i * t + k);
            m.Set(beta + k, scale * sum);
        }
    }

    /// <summary>Writes the tasks other than <paramref name="task"/> at workspace offset <paramref name="order"/>, shuffled
    /// (Fisher–Yates driven by a counter-based hash of <paramref name="key"/>; <see cref="PcGradOrder"/> on the host); returns T − 1.</summary>
    public static int ShuffleOthers<TMemory>(TMemory m, int t, int task, int order, uint key) where TMemory : struct, ICombinationMemory
    {
        int n = 0;
        for (int k = 0; k < t; k++)
            if (k != task) { m.Set(order + n, k); n++; }
        for (int s = n - 1; s > 0; s--)
        {
            int r = SwapIndex(key, task, t, s);
            double tmp = m.Get(order + s);
            m.Set(order + s, m.Get(order + r));
            m.Set(order + r, tmp);
        }
        return n;
    }

    /// <summary>The swap partner r ∈ [0, s] of Fisher–Yates step s when shuffling task <paramref name="task"/>'s others.</summary>
    public static int SwapIndex(uint key, int task, int count, int s) =>
        (int)(Hash(key ^ Hash((uint)(task * count + s) + 0x9E3779B9u)) % (uint)(s + 1));

    /// <summary>The random key of step <paramref name="step"/> for <paramref name="seed"/> (PCGrad's order,
    /// <see cref="PcGradOrder"/>; GradVac's from a seed apart): a hash of both, the same on the host and in a kernel.</summary>
    public static uint StepKey(int seed, long step) =>
        Hash(unchecked((uint)seed * 0x9E3779B9u ^ Hash((uint)step) ^ (uint)(step >> 32)));

    /// <summary>A 32-bit integer hash (Chris Wellons' "lowbias32"): good avalanche, identical on every device.</summary>
    public static uint Hash(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
    }

    /// <summary>The order in which PCGrad projects task <paramref name="task"/> against the others (host helper for tests
    /// and diagnostics; the same algorithm as the kernel).</summary>
    public static void PcGradOrder(uint key, int task, int count, Span<int> order)
    {
        if (order.Length != count - 1) throw new ArgumentException($"order must hold {count - 1} elements.", nameof(order));
        int n = 0;
        for (int k = 0; k < count; k++)
            if (k != task) order[n++] = k;
        for (int s = n - 1; s > 0; s--)
        {
            int r = SwapIndex(key, task, count, s);
            (order[s], order[r]) = (order[r], order[s]);
        }
    }

    /// <summary>Recomputes h = G̃α and returns q = αᵀG̃α.</summary>
    private static double Quadratic<TMemory>(TMemory m, int t) where TMemory : struct, ICombinationMemory
    {
        int alpha = 2 * t * t, h = alpha + t;
        double q = 0;
        for (int r = 0; r < t; r++)
        {
            double hr = 0;
            for (int j = 0; j < t; j++) hr += m.Get(r * t + j) * m.Get(alpha + j);
            m.Set(h + r, hr);
            q += m.Get(alpha + r) * hr;
        }
        return q;
    }

    /// <summary>
    /// Frank–Wolfe with away steps (Lacoste-Julien &amp; Jaggi 2015) over the simplex, exact line search, for
    /// MGDA-UB: min ½αᵀG̃α (gradient G̃α); or CAGrad's dual: min α·u + cn·√(αᵀG̃α)
    /// (gradient u + cn·G̃α/√(αᵀG̃α)), with u = G̃·(1/T) and cn = c‖g̃₀‖. Leaves α in the β slot.
    /// </summary>
    private static void FrankWolfe<TMemory>(TMemory m, int t, SolverParameters p, bool caGrad) where TMemory : struct, ICombinationMemory
    {
        int alpha = 2 * t * t, h = alpha + t, u = h + t;
        double maxDiagonal = 0.0, sumAll = 0;
        for (int r = 0; r < t; r++)
        {
            double d = m.Get(r * t + r);
            if (d > maxDiagonal) maxDiagonal = d;
            double row = 0;
            for (int j = 0; j < t; j++) row += m.Get(r * t + j);
            sumAll += row;
            m.Set(u + r, caGrad ? row / t : 0.0);
            m.Set(alpha + r, 1.0 / t);
        }
        double g0Squared = sumAll / ((double)t * t);
        double cn = caGrad && g0Squared > 0 ? p.C * Math.Sqrt(g0Squared) : 0.0;
        // Relative stopping test: the duality gap scales with G (scaling every gradient by s scales it by s²), so it is
        // compared with Tolerance·max Gᵢᵢ — the same iterations, the same α at any scale. All-zero gradients: nothing to do.
        double stop = p.Tolerance * maxDiagonal;
        if (!(maxDiagonal > 0)) return;
        const double tiny = 1e-300;

        for (int iteration = 0; iteration < p.MaxIterations; iteration++)
        {
            double q = Quadratic(m, t);
            double lin = 0;
            for (int r = 0; r < t; r++) lin += m.Get(u + r) * m.Get(alpha + r);
            double sqrtQ = q > tiny ? Math.Sqrt(q) : 0.0;

            // Gradient, the Frank–Wolfe vertex s (min) and the away vertex v (max over the active set).
            int s = 0, v = -1;
            double gs = 0, gv = 0, ga = 0;
            for (int r = 0; r < t; r++)
            {
                double gr = caGrad ? m.Get(u + r) + (sqrtQ > 0 ? cn * m.Get(h + r) / sqrtQ : 0.0) : m.Get(h + r);
                double ar = m.Get(alpha + r);
                ga += gr * ar;
                if (r == 0 || gr < gs) { s = r; gs = gr; }
                if (ar > 0 && (v < 0 || gr > gv)) { v = r; gv = gr; }
            }
            double gapToward = ga - gs, gapAway = gv - ga;
            if (!(gapToward > stop)) break;

            // Direction d: toward e_s (γ ≤ 1), or away from e_v (γ ≤ α_v/(1 − α_v)).
            bool toward = gapToward >= gapAway || v < 0;
            int k = toward ? s : v;
            double hk = m.Get(h + k), gkk = m.Get(k * t + k), uk = m.Get(u + k), ak = m.Get(alpha + k);
            double pd = toward ? hk - q : q - hk;          // αᵀG̃d
            double qd = toward ? gkk - 2 * hk + q : q - 2 * hk + gkk; // dᵀG̃d
            double ud = toward ? uk - lin : lin - uk;      // u·d
            double gammaMax = toward ? 1.0 : ak / (1.0 - ak);

            double gamma;
            if (!caGrad)
                gamma = qd > 0 ? Clamp(-pd / qd, 0, gammaMax) : (pd < 0 ? gammaMax : 0.0);
            else
                gamma = CaGradLineSearch(q, pd, qd, ud, cn, gammaMax);
            if (!(gamma > 0)) break;

            for (int r = 0; r < t; r++)
            {
                double ar = m.Get(alpha + r);
                double e = r == k ? 1.0 : 0.0;
                m.Set(alpha + r, toward ? ar + gamma * (e - ar) : ar + gamma * (ar - e));
            }
        }
    }

    /// <summary>Minimises φ(γ) = γ·ud + cn·√(q + 2γ·pd + γ²·qd) over [0, γmax]: φ is convex, so bisect on the sign of φ'.</summary>
    private static double CaGradLineSearch(double q, double pd, double qd, double ud, double cn, double gammaMax)
    {
        if (cn == 0) return ud < 0 ? gammaMax : 0.0;
        if (Slope(0, q, pd, qd, ud, cn) >= 0) return 0.0;
        if (Slope(gammaMax, q, pd, qd, ud, cn) <= 0) return gammaMax;
        double lo = 0, hi = gammaMax;
        for (int i = 0; i < 100; i++)
        {
            double mid = 0.5 * (lo + hi);
            if (Slope(mid, q, pd, qd, ud, cn) < 0) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    private static double Slope(double gamma, double q, double pd, double qd, double ud, double cn)
    {
        double quadratic = q + 2 * gamma * pd + gamma * gamma * qd;
        if (!(quadratic > 1e-300)) quadratic = 1e-300;
        return ud + cn * (pd + gamma * qd) / Math.Sqrt(quadratic);
    }

    /// <summary>
    /// CAGrad: α from the dual (Frank–Wolfe above), then d = g̃₀ + (cn/‖g̃_α‖)·g̃_α with g̃₀ = (1/T)Σg̃ᵢ, rescaled:
    /// βₖ = (1/T + λαₖ)/ρ with λ = cn/‖g̃_α‖ (0 when ‖g̃_α‖ is zero) and ρ ∈ {1, 1+c², 1+c}.
    /// </summary>
    private static void CaGrad<TMemory>(TMemory m, int t, SolverParameters p) where TMemory : struct, ICombinationMemory
    {
        FrankWolfe(m, t, p, true);
        int alpha = 2 * t * t;
        double sumAll = 0;
        for (int i = 0; i < t * t; i++) sumAll += m.Get(i);
        double g0Squared = sumAll / ((double)t * t);
        double cn = g0Squared > 0 ? p.C * Math.Sqrt(g0Squared) : 0.0;
        double q = Quadratic(m, t);
        double lambda = q > p.ZeroNormSquared && q > 0 ? cn / Math.Sqrt(q) : 0.0;
        double rho = p.Rescale == (int)CaGradRescale.OnePlusCSquared ? 1 + p.C * p.C
                   : p.Rescale == (int)CaGradRescale.OnePlusC ? 1 + p.C : 1.0;
        for (int k = 0; k < t; k++)
            m.Set(alpha + k, (1.0 / t + lambda * m.Get(alpha + k)) / rho);
    }

    private static double Clamp(double x, double lo, double hi) => x < lo ? lo : x > hi ? hi : x;
}
