namespace Engine.Kernels;

/// <summary>What <see cref="FamoSolver"/> reads and writes: the step's task losses, the method's state (stored in the
/// backend's precision, read and written as float64) and the output weights. The CPU path implements it over pointers,
/// the ILGPU path over array views, so the solver is written once.</summary>
public interface IFamoMemory
{
    /// <summary>The loss of task <paramref name="task"/> in this step.</summary>
    double Loss(int task);
    /// <summary>Reads state element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes state element <paramref name="index"/> (rounded to the backend's precision).</summary>
    void Set(int index, double value);
    /// <summary>Writes the weight λ of task <paramref name="task"/>.</summary>
    void SetWeight(int task, double value);
}

/// <summary>FAMO's settings as the kernels take them (doubles only): the logits' Adam (learning rate, L2 weight decay γ
/// added to the gradient as torch.optim.Adam's <c>weight_decay</c>, β₁, β₂, ε_Adam) and the log-loss's ε and lower bound.</summary>
public readonly struct FamoParameters(double learningRate, double weightDecay, double epsilon, double minLoss,
    double beta1 = 0.9, double beta2 = 0.999, double adamEpsilon = 1e-8)
{
    public readonly double LearningRate = learningRate, WeightDecay = weightDecay, Epsilon = epsilon, MinLoss = minLoss,
        Beta1 = beta1, Beta2 = beta2, AdamEpsilon = adamEpsilon;
}

/// <summary>
/// FAMO, fast adaptive multitask optimization (Liu, Feng, Stone &amp; Liu, NeurIPS 2023; the authors' <c>FAMO</c> class in
/// famo.py), one step, O(T), float64 arithmetic. With Dᵢ = Lᵢ − m + ε (m = min-loss):
/// <list type="number">
/// <item>when a previous step's losses L′ are stored: δᵢ = log D′ᵢ − log Dᵢ, the logits' gradient
/// g = Jᵀδ + γw with J the Jacobian of z = softmax(w), i.e. gᵢ = zᵢ(δᵢ − Σⱼ zⱼδⱼ) + γwᵢ, and one torch.optim.Adam step on
/// w (step number k+1, bias-corrected, ε_Adam added to √v̂ as torch 1.13 does). Skipped when some δᵢ is not finite (a
/// NaN loss, or a loss ≤ m − ε): the logits stay as they were;</item>
/// <item>z = softmax(w) (max-shifted) and the weights λᵢ = (zᵢ/Dᵢ)/Σⱼ(zⱼ/Dⱼ): the backward of Σ λᵢLᵢ is the backward of
/// the authors' objective Σᵢ zᵢ log Dᵢ / c with c = Σⱼ zⱼ/Dⱼ held constant;</item>
/// <item>the losses are stored as L′ for the next step.</item>
/// </list>
/// <para>State (T = count, backend precision): [0, T) logits w; [T, 2T) Adam's exp_avg; [2T, 3T) exp_avg_sq;
/// [3T, 4T) the previous losses L′; [4T] k, the Adam steps taken; [4T+1] 1 once L′ holds losses. All zero at the start
/// (w = 0 as the authors). Plain loops and scalar locals: this code is also the ILGPU kernel.</para>
/// Maths: docs/maths.md §18.10.
/// </summary>
public static class FamoSolver
{
    /// <summary>Elements of the state for <paramref name="count"/> tasks.</summary>
    public static int StateLength(int count) => 4 * count + 2;

    /// <summary><see cref="Step"/>'s phase: both parts (the logit step from the stored and the given losses, then the
    /// weights from the given losses, which are stored).</summary>
    public const int LogitsThenWeights = 0;
    /// <summary>Only the weights from the given losses, which are stored (same-batch FAMO, before the backward).</summary>
    public const int WeightsOnly = 1;
    /// <summary>Only the logit step from the stored losses and the given ones, the losses after the model step on the same
    /// batch (same-batch FAMO); nothing is stored, the weights are not written.</summary>
    public const int LogitsOnly = 2;

    /// <summary>Updates the state from the step's losses and writes the weights, or one of the two (<paramref name="phase"/>).</summary>
    public static void Step<TMemory>(TMemory m, int count, FamoParameters p, int phase = LogitsThenWeights) where TMemory : struct, IFamoMemory
    {
        int t = count, avg = t, avgSq = 2 * t, previous = 3 * t, steps = 4 * t, stored = 4 * t + 1;
        if (phase != WeightsOnly && m.Get(stored) != 0 && DeltasAreFinite(m, t, previous, p))
        {
            double max = MaxLogit(m, t), sum = ExpSum(m, t, max), zDelta = 0;
            for (int i = 0; i < t; i++) zDelta += DeviceMath.Exp(m.Get(i) - max) / sum * Delta(m, i, previous, p);
            double k = m.Get(steps) + 1;
            double correction1 = 1 - Power(p.Beta1, k), correction2Root = Math.Sqrt(1 - Power(p.Beta2, k));
            double stepSize = p.LearningRate / correction1;
            for (int i = 0; i < t; i++)
            {
                double w = m.Get(i), z = DeviceMath.Exp(w - max) / sum;
                double g = z * (Delta(m, i, previous, p) - zDelta) + p.WeightDecay * w;  // softmax's VJP of δ, plus γw
                m.Set(avg + i, m.Get(avg + i) * p.Beta1 + g * (1 - p.Beta1));
                m.Set(avgSq + i, m.Get(avgSq + i) * p.Beta2 + g * g * (1 - p.Beta2));
                double denominator = Math.Sqrt(m.Get(avgSq + i)) / correction2Root + p.AdamEpsilon;
                m.Set(i, w - stepSize * (m.Get(avg + i) / denominator));
            }
            m.Set(steps, k);
        }

        if (phase == LogitsOnly) return;
        // λ; every weight NaN when some Dᵢ is not positive (a NaN loss, or one ≤ m − ε), so the non-finite guard skips the step.
        double newMax = MaxLogit(m, t), newSum = ExpSum(m, t, newMax), total = 0;
        for (int i = 0; i < t; i++)
        {
            double d = Shifted(m.Loss(i), p);
            total += d > 0 ? DeviceMath.Exp(m.Get(i) - newMax) / newSum / d : double.NaN;
        }
        for (int i = 0; i < t; i++) m.SetWeight(i, DeviceMath.Exp(m.Get(i) - newMax) / newSum / Shifted(m.Loss(i), p) / total);
        for (int i = 0; i < t; i++) m.Set(previous + i, m.Loss(i));
        m.Set(stored, 1);
    }

    /// <summary>Dᵢ = Lᵢ − m + ε.</summary>
    private static double Shifted(double loss, FamoParameters p) => loss - p.MinLoss + p.Epsilon;

    /// <summary>δᵢ = log D′ᵢ − log Dᵢ (not finite when either D is ≤ 0 or NaN).</summary>
    private static double Delta<TMemory>(TMemory m, int i, int previous, FamoParameters p) where TMemory : struct, IFamoMemory =>
        DeviceMath.Log(Shifted(m.Get(previous + i), p)) - DeviceMath.Log(Shifted(m.Loss(i), p));

    private static bool DeltasAreFinite<TMemory>(TMemory m, int t, int previous, FamoParameters p) where TMemory : struct, IFamoMemory
    {
        for (int i = 0; i < t; i++)
        {
            double d = Delta(m, i, previous, p);
            if (!(d - d == 0)) return false;   // NaN or ±∞ (x − x is 0 only for finite x)
        }
        return true;
    }

    /// <summary>βᵏ = exp(k·log β) for β in (0, 1), 0 for β = 0.</summary>
    private static double Power(double beta, double k) => beta > 0 ? DeviceMath.Exp(k * DeviceMath.Log(beta)) : 0;

    private static double MaxLogit<TMemory>(TMemory m, int t) where TMemory : struct, IFamoMemory
    {
        double max = m.Get(0);
        for (int i = 1; i < t; i++) max = Math.Max(max, m.Get(i));
        return max;
    }

    private static double ExpSum<TMemory>(TMemory m, int t, double max) where TMemory : struct, IFamoMemory
    {
        double sum = 0;
        for (int i = 0; i < t; i++) sum += DeviceMath.Exp(m.Get(i) - max);
        return sum;
    }
}
