namespace Engine.Kernels;

/// <summary>What <see cref="ExcessMtlSolver.Step"/> reads and writes: this step's excess-risk estimates rᵢ, the method's
/// state (stored in the backend's precision, read and written as float64) and the weights the step trains with.</summary>
public interface IExcessMtlMemory
{
    /// <summary>rᵢ = Σₚ gᵢₚ²/√(Sᵢₚ + ε), task <paramref name="task"/> (<see cref="ExcessMtlReference.Risks"/>).</summary>
    double Risk(int task);
    /// <summary>State element <paramref name="index"/>.</summary>
    double Get(int index);
    /// <summary>Writes state element <paramref name="index"/>.</summary>
    void Set(int index, double value);
    /// <summary>Writes the weight λ of task <paramref name="task"/>.</summary>
    void SetWeight(int task, double value);
}

/// <summary>
/// ExcessMTL (He et al., ICML 2024, "Robust Multi-Task Learning with Excess Risks"; LibMTL's and the authors'
/// <c>ExcessMTL</c>), the O(T) part of one step in float64: from this step's excess-risk estimates rᵢ
/// <list type="number">
/// <item>at the first update, r⁰ᵢ = rᵢ is kept as each task's scale and the weights stay as they are (LibMTL's
/// <c>first_epoch</c> branch, which runs once: at the first step);</item>
/// <item>afterwards wᵢ ← wᵢ·exp(η·rᵢ/r⁰ᵢ), then w ← T·w/Σw (LibMTL's normalisation to Σw = T; the paper's simplex is
/// w/T). Computed as wᵢ = T·exp(uᵢ − max u)/Σⱼexp(uⱼ − max u) with uᵢ = ln wᵢ + η·rᵢ/r⁰ᵢ: the same numbers without
/// the overflow of exp for large ratios.</item>
/// </list>
/// Engine rules where LibMTL divides by zero: a task whose r⁰ᵢ is 0 (no gradient at the first step: no label of it in
/// the batch) takes its first nonzero rᵢ as r⁰ᵢ, and until then its factor is 1. A non-finite rᵢ leaves the state as it
/// is (the model's step is skipped by the non-finite guard) and writes the weights unchanged.
/// <para>State (T = count, backend precision): [0, T) the weights w (1 at the start, as LibMTL); [T, 2T) r⁰ (0 = not
/// seen); [2T] the updates made. Plain loops and scalar locals: this code is also the single-thread ILGPU kernel.</para>
/// Maths: docs/maths.md §18.18.
/// </summary>
public static class ExcessMtlSolver
{
    /// <summary>ε in hᵢ = √(Sᵢ + ε), LibMTL's 1e-7.</summary>
    public const double Epsilon = 1e-7;

    /// <summary>Elements of the state for <paramref name="count"/> tasks.</summary>
    public static int StateLength(int count) => 2 * count + 1;

    /// <summary>The initial state: w = 1, no r⁰, no update.</summary>
    public static double[] InitialState(int count)
    {
        var state = new double[StateLength(count)];
        for (int i = 0; i < count; i++) state[i] = 1;
        return state;
    }

    /// <summary>One update of the weights from the step's risks, with step size η = <paramref name="stepSize"/>.</summary>
    public static void Step<TMemory>(TMemory m, int count, double stepSize) where TMemory : struct, IExcessMtlMemory
    {
        int t = count, scale = t, updates = 2 * t;
        bool finite = true;
        for (int i = 0; i < t; i++)
        {
            double r = m.Risk(i);
            if (double.IsNaN(r) || double.IsInfinity(r)) finite = false;
        }
        if (finite)
        {
            bool first = m.Get(updates) == 0;
            for (int i = 0; i < t; i++)
                if (m.Get(scale + i) == 0 && m.Risk(i) > 0) m.Set(scale + i, m.Risk(i));
            if (!first)
            {
                double max = double.NegativeInfinity;
                for (int i = 0; i < t; i++) max = Math.Max(max, Exponent(m, i, scale, stepSize));
                double total = 0;
                for (int i = 0; i < t; i++) total += DeviceMath.Exp(Exponent(m, i, scale, stepSize) - max);
                for (int i = 0; i < t; i++) m.Set(i, t * DeviceMath.Exp(Exponent(m, i, scale, stepSize) - max) / total);
            }
            m.Set(updates, m.Get(updates) + 1);
        }
        for (int i = 0; i < t; i++) m.SetWeight(i, m.Get(i));
    }

    /// <summary>uᵢ = ln wᵢ + η·rᵢ/r⁰ᵢ (η·0 while r⁰ᵢ is unknown).</summary>
    private static double Exponent<TMemory>(TMemory m, int i, int scale, double stepSize) where TMemory : struct, IExcessMtlMemory
    {
        double r0 = m.Get(scale + i);
        return DeviceMath.Log(m.Get(i)) + (r0 > 0 ? stepSize * m.Risk(i) / r0 : 0);
    }
}
