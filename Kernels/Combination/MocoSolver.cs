namespace Engine.Kernels;

/// <summary>MoCo's settings as the kernels take them (ints and doubles only): the tracking rate β/t^σ_β, the λ rate
/// γ/t^σ_γ, the ℓ₂ term ρ, whether the gradients are normalised by <see cref="MocoSolver.NormalizeByLoss"/>, and how λ is
/// kept on the simplex (<see cref="MocoSolver.Projection"/> or <see cref="MocoSolver.Softmax"/>).</summary>
public readonly struct MocoParameters(double beta, double betaSigma, double gamma, double gammaSigma, double rho, int normalization, int update)
{
    public readonly double Beta = beta, BetaSigma = betaSigma, Gamma = gamma, GammaSigma = gammaSigma, Rho = rho;
    public readonly int Normalization = normalization, Update = update;
}

/// <summary>What <see cref="MocoSolver.Scales"/> reads and writes: the squared norms ‖gᵢ‖², losses and weights of the step,
/// the state (backend precision, read and written as float64) and the T + 1 scales of the tracking pass.</summary>
public interface IMocoScalesMemory
{
    /// <summary>‖gᵢ‖² of task <paramref name="task"/>'s gradient (read only when normalising).</summary>
    double SquaredNorm(int task);
    /// <summary>The step's loss Lᵢ (read only when normalising).</summary>
    double Loss(int task);
    /// <summary>The task weight wᵢ.</summary>
    double Weight(int task);
    /// <summary>Reads state element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes state element <paramref name="index"/> (rounded to the backend's precision).</summary>
    void Set(int index, double value);
    /// <summary>Writes scale <paramref name="index"/> (0 … T) of the tracking pass.</summary>
    void SetScale(int index, double value);
}

/// <summary>What <see cref="MocoSolver.Lambda"/> reads and writes: the Gram matrix of the tracked gradients YYᵀ, the state
/// (backend precision), a float64 workspace (T) and the coefficients λ of the update Σᵢ λᵢyᵢ.</summary>
public interface IMocoLambdaMemory
{
    /// <summary>Entry <paramref name="index"/> (row-major) of G = YYᵀ.</summary>
    double Gram(int index);
    /// <summary>Reads state element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes state element <paramref name="index"/> (rounded to the backend's precision).</summary>
    void Set(int index, double value);
    /// <summary>Reads float64 workspace element <paramref name="index"/>.</summary>
    double Work(int index);
    /// <summary>Writes float64 workspace element <paramref name="index"/>.</summary>
    void SetWork(int index, double value);
    /// <summary>Writes the coefficient λᵢ of task <paramref name="task"/>.</summary>
    void SetCoefficient(int task, double value);
}

/// <summary>
/// MoCo, stochastic multi-objective gradient correction (Fernando et al. 2023, "Mitigating Gradient Bias in
/// Multi-objective Learning: A Provably Convergent Approach", ICLR; Algorithm 1; LibMTL <c>MoCo</c>), the two T-sized
/// parts of a step, in float64 (this code is the readable reference and, over device memory, the single-thread kernels).
/// With t the step (1, 2, …), β_t = β/t^σ_β and γ_t = γ/t^σ_γ (LibMTL's decays; the paper's β_t, γ_t):
/// <list type="number">
/// <item><see cref="Scales"/>: t ← t + 1 and the scales of the tracking pass yᵢ ← (1 − β_t)yᵢ + β_t·sᵢgᵢ, i.e.
/// yᵢ ← yᵢ − β_t(yᵢ − h̃ᵢ) with h̃ᵢ = sᵢgᵢ: sᵢ = wᵢ (the paper's gradient) or sᵢ = wᵢLᵢ/‖gᵢ‖ (LibMTL's
/// normalisation gᵢ/‖gᵢ‖·Lᵢ, 0 for a zero gradient), written as scales[i] = β_t·sᵢ, scales[T] = 1 − β_t;</item>
/// <item><see cref="Lambda"/>, from G = YYᵀ of the updated Y: v = λ − γ_t(G + ρI)λ, then λ ← Π_Δ(v), the Euclidean
/// projection onto the simplex (the paper), or λ ← softmax(v) (LibMTL); the coefficients of the update Σᵢ λᵢyᵢ are λ.</item>
/// </list>
/// <para>State (backend precision, T = count): [0, T) λ (1/T at the start); [T] the steps taken t (0 at the start).</para>
/// Maths: docs/maths.md §18.17.
/// </summary>
public static class MocoSolver
{
    /// <summary><see cref="MocoParameters.Normalization"/>: the gradients as they are (Algorithm 1).</summary>
    public const int NoNormalization = 0;
    /// <summary><see cref="MocoParameters.Normalization"/>: gᵢ/‖gᵢ‖·Lᵢ (LibMTL).</summary>
    public const int NormalizeByLoss = 1;
    /// <summary><see cref="MocoParameters.Update"/>: λ ← Π_Δ(v) (Algorithm 1).</summary>
    public const int Projection = 0;
    /// <summary><see cref="MocoParameters.Update"/>: λ ← softmax(v) (LibMTL).</summary>
    public const int Softmax = 1;

    /// <summary>Elements of the state for <paramref name="count"/> tasks.</summary>
    public static int StateLength(int count) => count + 1;

    /// <summary>t ← t + 1 and the T + 1 scales of the tracking pass (β_t·sᵢ, then 1 − β_t).</summary>
    public static void Scales<TMemory>(TMemory m, int count, MocoParameters p) where TMemory : struct, IMocoScalesMemory
    {
        double t = m.Get(count) + 1;
        m.Set(count, t);
        double beta = Rate(p.Beta, p.BetaSigma, t);
        for (int i = 0; i < count; i++)
        {
            double s = m.Weight(i);
            if (p.Normalization == NormalizeByLoss)
            {
                double squared = m.SquaredNorm(i);
                s = squared > 0 ? s * m.Loss(i) / Math.Sqrt(squared) : 0.0;
            }
            m.SetScale(i, beta * s);
        }
        m.SetScale(count, 1 - beta);
    }

    /// <summary>λ ← Π_Δ(λ − γ_t(G + ρI)λ) (or its softmax), written to the state and as the coefficients.</summary>
    public static void Lambda<TMemory>(TMemory m, int count, MocoParameters p) where TMemory : struct, IMocoLambdaMemory
    {
        double gamma = Rate(p.Gamma, p.GammaSigma, m.Get(count));
        for (int i = 0; i < count; i++)
        {
            double gl = p.Rho * m.Get(i);
            for (int j = 0; j < count; j++) gl += m.Gram(i * count + j) * m.Get(j);
            m.SetWork(i, m.Get(i) - gamma * gl);
        }
        if (p.Update == Softmax) SoftmaxInPlace(m, count);
        else ProjectOntoSimplex(m, count);
        for (int i = 0; i < count; i++)
        {
            m.Set(i, m.Work(i));
            m.SetCoefficient(i, m.Work(i));
        }
    }

    /// <summary>rate/t^σ (t ≥ 1), as exp(−σ log t) so that the kernels need only <see cref="DeviceMath"/>.</summary>
    public static double Rate(double rate, double sigma, double t) => sigma == 0 || t <= 1 ? rate : rate * DeviceMath.Exp(-sigma * DeviceMath.Log(t));

    /// <summary>
    /// The Euclidean projection of the workspace v (count) onto the simplex Δ = {λ ≥ 0, Σλ = 1}, in place:
    /// λᵢ = max(vᵢ − θ, 0) with θ the root of Σᵢ max(vᵢ − θ, 0) = 1. For any set A of indices,
    /// Σ_{i∈A}(vᵢ − θ) ≤ Σᵢ max(vᵢ − θ, 0) = 1, so (Σ_{i∈A}vᵢ − 1)/|A| ≤ θ, with equality for the active set
    /// {i : vᵢ &gt; θ}; that set is one of the upper sets Aⱼ = {i : vᵢ ≥ vⱼ}, so θ = maxⱼ (Σ_{i∈Aⱼ}vᵢ − 1)/|Aⱼ| — the
    /// sort-based rule of Held, Wolfe &amp; Crowder (1974) / Duchi et al. (2008) without the sort (O(T²), no scratch).
    /// </summary>
    public static void ProjectOntoSimplex<TMemory>(TMemory m, int count) where TMemory : struct, IMocoLambdaMemory
    {
        double theta = double.NegativeInfinity;
        for (int j = 0; j < count; j++)
        {
            double vj = m.Work(j), sum = 0;
            int members = 0;
            for (int i = 0; i < count; i++)
                if (m.Work(i) >= vj) { sum += m.Work(i); members++; }
            double candidate = (sum - 1) / members;
            if (candidate > theta || double.IsNaN(candidate)) theta = candidate;
        }
        for (int i = 0; i < count; i++)
        {
            double v = m.Work(i) - theta;
            m.SetWork(i, v > 0 ? v : double.IsNaN(v) ? v : 0.0);
        }
    }

    /// <summary>softmax of the workspace (count), in place, shifted by its maximum.</summary>
    private static void SoftmaxInPlace<TMemory>(TMemory m, int count) where TMemory : struct, IMocoLambdaMemory
    {
        double max = m.Work(0);
        for (int i = 1; i < count; i++) max = m.Work(i) > max || double.IsNaN(m.Work(i)) ? m.Work(i) : max;
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            double e = DeviceMath.Exp(m.Work(i) - max);
            m.SetWork(i, e);
            sum += e;
        }
        for (int i = 0; i < count; i++) m.SetWork(i, m.Work(i) / sum);
    }
}
