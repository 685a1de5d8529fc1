namespace Engine.Kernels;

/// <summary>
/// GradVac, gradient vaccine (Wang et al. 2021, "Gradient Vaccine: Investigating and Improving Multi-task Optimization
/// in Massively Multilingual Models", ICLR; LibMTL <c>GradVac</c>, whole-model granularity) from the Gram matrix alone,
/// in float64, on coefficient vectors as PCGrad (<see cref="CombinationSolver"/>): row i of C holds g̃ᵢ' = Σₖ Cᵢₖg̃ₖ,
/// starting at eᵢ. For each task i, the other tasks j in a seeded random order: ρ = g̃ᵢ'·g̃ⱼ/(‖g̃ᵢ'‖‖g̃ⱼ‖) (0 when a norm
/// is 0); when ρ &lt; φ̂ᵢⱼ (the pair's target), g̃ᵢ' += g̃ⱼ·‖g̃ᵢ'‖(φ̂√(1 − ρ²) − ρ√(1 − φ̂²))/(‖g̃ⱼ‖√(1 − φ̂²)), which
/// raises the cosine to exactly φ̂; then φ̂ᵢⱼ ← (1 − β)φ̂ᵢⱼ + βρ (every visited pair, as LibMTL). The update is Σᵢ g̃ᵢ'
/// (βₖ = Σᵢ Cᵢₖ). The targets φ̂ (T × T, starting at 0) and the step count s live in the workspace and persist from step
/// to step; the order's key is <see cref="OrderKey"/>(seed, s), drawn here on the device, so the whole state is device
/// memory that a skipped step can put back and a checkpoint can save. This code is the readable reference and the
/// kernel (host, and a single-thread ILGPU kernel).
/// <para>Workspace (float64, T = count): [0, T²) G̃; [T², 2T²) C; [2T², 3T²) φ̂ and [3T²] s (the state: zero it once);
/// then the row Cᵢ·G̃ (T), the order (T) and β (T).</para>
/// Maths: docs/maths.md §18.9.
/// </summary>
public static class GradVacSolver
{
    /// <summary>Float64 elements of the workspace for <paramref name="count"/> tasks.</summary>
    public static int WorkspaceLength(int count) => 3 * count * count + 1 + 3 * count;

    /// <summary>Where the targets φ̂ start in the workspace.</summary>
    public static int TargetsOffset(int count) => 2 * count * count;

    /// <summary>Where the step count s (steps solved so far, a whole float64) is in the workspace.</summary>
    public static int StepsOffset(int count) => 3 * count * count;

    /// <summary>The order key of step <paramref name="step"/>: PCGrad's (<see cref="CombinationSolver.StepKey"/>) from a stream
    /// apart (the seed xor "GVAC").</summary>
    public static uint OrderKey(int seed, long step) => CombinationSolver.StepKey(seed ^ 0x47564143, step);

    /// <summary>Writes the coefficients aₖ = wₖβₖ, updates the targets with decay <paramref name="decay"/> (β) and counts the
    /// step; the order of step s is drawn from <see cref="OrderKey"/>(<paramref name="seed"/>, s).</summary>
    public static void Solve<TMemory>(TMemory m, int count, double decay, int seed) where TMemory : struct, ICombinationMemory
    {
        int t = count, c = t * t, target = 2 * t * t, steps = 3 * t * t, row = steps + 1, order = row + t, beta = order + t;
        double step = m.Get(steps);
        uint randomKey = OrderKey(seed, (long)step);
        m.Set(steps, step + 1);
        CombinationSolver.WeightGram(m, t);
        for (int i = 0; i < t; i++)
            for (int k = 0; k < t; k++) m.Set(c + i * t + k, i == k ? 1.0 : 0.0);

        for (int i = 0; i < t; i++)
        {
            int n = CombinationSolver.ShuffleOthers(m, t, i, order, randomKey);
            for (int o = 0; o < n; o++)
            {
                int j = (int)m.Get(order + o);
                // (Cᵢ·G̃)ₖ = g̃ᵢ'·g̃ₖ, so g̃ᵢ'·g̃ⱼ and ‖g̃ᵢ'‖² = Σₖ Cᵢₖ(Cᵢ·G̃)ₖ.
                double squared = 0;
                for (int k = 0; k < t; k++)
                {
                    double rk = 0;
                    for (int l = 0; l < t; l++) rk += m.Get(c + i * t + l) * m.Get(l * t + k);
                    m.Set(row + k, rk);
                    squared += m.Get(c + i * t + k) * rk;
                }
                double ni = Math.Sqrt(squared > 0 ? squared : 0), nj = Math.Sqrt(m.Get(j * t + j));
                double rho = ni > 0 && nj > 0 ? m.Get(row + j) / (ni * nj) : 0.0;
                double phi = m.Get(target + i * t + j);
                double root = Math.Sqrt(1 - phi * phi > 0 ? 1 - phi * phi : 0);
                if (rho < phi && nj > 0 && root > 0)
                {
                    double w = ni * (phi * Math.Sqrt(1 - rho * rho > 0 ? 1 - rho * rho : 0) - rho * root) / (nj * root);
                    m.Set(c + i * t + j, m.Get(c + i * t + j) + w);
                }
                m.Set(target + i * t + j, (1 - decay) * phi + decay * rho);
            }
        }
        for (int k = 0; k < t; k++)
        {
            double sum = 0;
            for (int i = 0; i < t; i++) sum += m.Get(c + i * t + k);
            m.Set(beta + k, sum);
        }
        CombinationSolver.WriteCoefficients(m, t, beta);
    }
}
