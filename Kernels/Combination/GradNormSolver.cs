namespace Engine.Kernels;

/// <summary>What <see cref="GradNormSolver.Step"/> reads and writes: the squared norms ‖∇Lᵢ‖² of the unweighted task
/// gradients of the shared parameters, the losses Lᵢ, and the method's state (T-typed, saved with the step's state).</summary>
public interface IGradNormMemory
{
    /// <summary>‖∇_W Lᵢ‖², task <paramref name="task"/>.</summary>
    double SquaredNorm(int task);
    /// <summary>Lᵢ, task <paramref name="task"/>.</summary>
    double Loss(int task);
    /// <summary>State element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes state element <paramref name="index"/>.</summary>
    void Set(int index, double value);
}

/// <summary>The hyper-parameters of one GradNorm weight update (ints and doubles only, so that it is a kernel argument).</summary>
public readonly struct GradNormSettings
{
    /// <summary>α ≥ 0, the strength of the pull towards a common training rate.</summary>
    public readonly double Alpha;
    /// <summary>The weights' own learning rate (&gt; 0).</summary>
    public readonly double LearningRate;
    /// <summary>Adam's β₁, β₂ and ε (PyTorch's defaults).</summary>
    public readonly double Beta1, Beta2, Epsilon;
    /// <summary><see cref="GradNormSolver.Adam"/> or <see cref="GradNormSolver.Sgd"/>.</summary>
    public readonly int Optimizer;
    /// <summary><see cref="GradNormSolver.Paper"/> (wᵢ learned, clamped at 0 and renormalised to Σw = T) or
    /// <see cref="GradNormSolver.Softmax"/> (LibMTL: w = T·softmax(p), p learned).</summary>
    public readonly int Parameterization;

    /// <summary>Settings with PyTorch's Adam defaults β = (0.9, 0.999), ε = 1e-8.</summary>
    public GradNormSettings(double alpha, double learningRate, int optimizer = GradNormSolver.Adam, int parameterization = GradNormSolver.Paper,
        double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        Alpha = alpha;
        LearningRate = learningRate;
        Optimizer = optimizer;
        Parameterization = parameterization;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }
}

/// <summary>
/// GradNorm (Chen, Badrinarayanan, Lee &amp; Rabinovich 2018, ICML; LibMTL <c>GradNorm</c>): one update of the learned
/// task weights, in float64, from the unweighted task-gradient norms nᵢ = ‖∇_W Lᵢ‖ (W: every shared parameter, as LibMTL)
/// and the losses. With Gᵢ = wᵢnᵢ, the loss ratios L̃ᵢ = Lᵢ/Lᵢ(0), rᵢ = L̃ᵢ/mean(L̃), Ḡ = mean(G) and the targets
/// tᵢ = Ḡ·rᵢ^α held constant, L_grad = Σᵢ |Gᵢ − tᵢ| has ∂L_grad/∂wᵢ = sign(Gᵢ − tᵢ)·nᵢ. The learned variable θ is w
/// itself (the paper: after the optimizer step w ← max(w, 0), then w ← T·w/Σw) or LibMTL's logits p with w = T·softmax(p),
/// ∂/∂p_k = w_k(d_k − (1/T)Σᵢ wᵢdᵢ); a gap |Gᵢ − tᵢ| within <see cref="TieTolerance"/>·Ḡ is a tie (dᵢ = 0); it is stepped by Adam (PyTorch's form) or SGD with the method's own learning rate.
/// Lᵢ(0) is task i's first nonzero loss (the first step's, unless its first batches held no label of the task). A task
/// whose loss is 0 this step (no label in the batch, maths §19.1) or has no Lᵢ(0) yet is left out of the means and its
/// dᵢ is 0; a non-finite loss or norm leaves the whole state untouched (the step is skipped by the non-finite guard).
/// This code is the readable reference and the kernel (host, and a single-thread ILGPU kernel).
/// <para>State (T-typed, T = count): [0, T) w, the weights of the next step; [T, 2T) θ; [2T, 3T) Adam's exp_avg;
/// [3T, 4T) exp_avg_sq; [4T, 5T) Lᵢ(0) (0 = not yet seen); [5T] the update count.</para>
/// Maths: docs/maths.md §18.11.
/// </summary>
public static class GradNormSolver
{
    /// <summary>Adam (PyTorch 1.13's update, bias-corrected).</summary>
    public const int Adam = 0;
    /// <summary>Plain gradient descent.</summary>
    public const int Sgd = 1;
    /// <summary>The paper's parameterization: w learned, clamped at 0 and renormalised to Σw = T after each step.</summary>
    public const int Paper = 0;
    /// <summary>LibMTL's: w = T·softmax(p), the logits p learned (Σw = T by construction).</summary>
    public const int Softmax = 1;

    /// <summary>|Gᵢ − tᵢ| ≤ this × Ḡ counts as a tie (sign 0, no gradient): float32 rounding of the norms (about 10⁻⁷ of
    /// them; the reductions of two equal rows may differ in the last bits on a GPU) must not decide the sign.</summary>
    public const double TieTolerance = 1e-5;

    /// <summary>Elements of the state for <paramref name="count"/> tasks.</summary>
    public static int StateLength(int count) => 5 * count + 1;

    /// <summary>The initial state: w = 1, θ = 1 (LibMTL's initial logits; any constant gives w = 1), moments 0, no Lᵢ(0), 0 updates.</summary>
    public static double[] InitialState(int count)
    {
        var state = new double[StateLength(count)];
        for (int i = 0; i < 2 * count; i++) state[i] = 1;
        return state;
    }

    /// <summary>One update of the weights (state [0, T)) from this step's norms and losses.</summary>
    public static void Step<TMemory>(TMemory m, int count, GradNormSettings s) where TMemory : struct, IGradNormMemory
    {
        int t = count, theta = t, avg = 2 * t, avgSq = 3 * t, initial = 4 * t, counter = 5 * t;
        for (int i = 0; i < t; i++)
        {
            double l = m.Loss(i), n2 = m.SquaredNorm(i);
            if (double.IsNaN(l) || double.IsInfinity(l) || double.IsNaN(n2) || double.IsInfinity(n2)) return;   // the model's step is skipped too: keep the state
        }
        for (int i = 0; i < t; i++)
            if (m.Get(initial + i) == 0 && m.Loss(i) > 0) m.Set(initial + i, m.Loss(i));

        // Ḡ and mean L̃ over the active tasks (a loss this step and an Lᵢ(0)).
        int active = 0;
        double meanG = 0, meanRatio = 0;
        for (int i = 0; i < t; i++)
            if (Active(m, i, initial))
            {
                active++;
                meanG += m.Get(i) * Math.Sqrt(m.SquaredNorm(i));
                meanRatio += m.Loss(i) / m.Get(initial + i);
            }
        if (active == 0) return;
        meanG /= active;
        meanRatio /= active;

        // dᵢ = ∂L_grad/∂wᵢ = sign(Gᵢ − tᵢ)·nᵢ (recomputed where needed: no scratch); Σᵢ wᵢdᵢ for the softmax chain rule.
        double weightedD = 0;
        for (int i = 0; i < t; i++) weightedD += m.Get(i) * D(m, i, initial, meanG, meanRatio, s.Alpha);
        double step = m.Get(counter) + 1;
        m.Set(counter, step);
        double bias1 = 1 - DeviceMath.Exp(step * DeviceMath.Log(s.Beta1)), bias2 = 1 - DeviceMath.Exp(step * DeviceMath.Log(s.Beta2));
        for (int i = 0; i < t; i++)
        {
            double d = D(m, i, initial, meanG, meanRatio, s.Alpha);
            double g = s.Parameterization == Softmax ? m.Get(i) * (d - weightedD / t) : d;
            double x = m.Get(theta + i);
            if (s.Optimizer == Sgd) x -= s.LearningRate * g;
            else
            {
                double first = s.Beta1 * m.Get(avg + i) + (1 - s.Beta1) * g;
                double second = s.Beta2 * m.Get(avgSq + i) + (1 - s.Beta2) * g * g;
                m.Set(avg + i, first);
                m.Set(avgSq + i, second);
                x -= s.LearningRate / bias1 * first / (Math.Sqrt(second) / Math.Sqrt(bias2) + s.Epsilon);
            }
            m.Set(theta + i, x);
        }
        WriteWeights(m, t, s.Parameterization);
    }

    private static bool Active<TMemory>(TMemory m, int i, int initial) where TMemory : struct, IGradNormMemory =>
        m.Loss(i) > 0 && m.Get(initial + i) > 0;

    /// <summary>dᵢ = sign(wᵢnᵢ − Ḡ·rᵢ^α)·nᵢ for an active task, else 0 (rᵢ &gt; 0, so rᵢ^α = exp(α ln rᵢ)).</summary>
    private static double D<TMemory>(TMemory m, int i, int initial, double meanG, double meanRatio, double alpha)
        where TMemory : struct, IGradNormMemory
    {
        if (!Active(m, i, initial)) return 0;
        double n = Math.Sqrt(m.SquaredNorm(i));
        double r = m.Loss(i) / m.Get(initial + i) / meanRatio;
        double target = meanG * DeviceMath.Exp(alpha * DeviceMath.Log(r));
        double gap = m.Get(i) * n - target, tie = TieTolerance * meanG;
        return gap > tie ? n : gap < -tie ? -n : 0;
    }

    /// <summary>w from θ: the paper's clamp at 0 and renormalisation to Σw = T (θ ← w), or T·softmax(θ).</summary>
    private static void WriteWeights<TMemory>(TMemory m, int t, int parameterization) where TMemory : struct, IGradNormMemory
    {
        if (parameterization == Softmax)
        {
            double max = double.NegativeInfinity, total = 0;
            for (int i = 0; i < t; i++) max = Math.Max(max, m.Get(t + i));
            for (int i = 0; i < t; i++) total += DeviceMath.Exp(m.Get(t + i) - max);
            for (int i = 0; i < t; i++) m.Set(i, t * DeviceMath.Exp(m.Get(t + i) - max) / total);
            return;
        }
        double sum = 0;
        for (int i = 0; i < t; i++) sum += Math.Max(m.Get(t + i), 0);
        for (int i = 0; i < t; i++)
        {
            double w = sum > 0 ? t * Math.Max(m.Get(t + i), 0) / sum : 1;   // every weight ≤ 0: start again from equal weights
            m.Set(i, w);
            m.Set(t + i, w);
        }
    }
}
