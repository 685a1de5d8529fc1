namespace Engine.Kernels;

/// <summary>
/// The step-control block: five device scalars that the clipping kernel writes and the optimizer
/// kernels read, so that clipping, the non-finite guard and the step counter cost no host round-trip.
/// Counts are stored in the element type; float32 holds every integer up to 2²⁴ (16.7 million steps) exactly.
/// </summary>
public static class StepControl
{
    /// <summary>Elements in the block.</summary>
    public const int Length = 5;
    /// <summary>Index of the gradient scale: <c>min(1, c/(‖g‖+1e-6))</c>, or exactly 1 without clipping.</summary>
    public const int GradientScale = 0;
    /// <summary>Index of the skip flag: 1 when ‖g‖ is NaN or ±∞ (the step then changes nothing), else 0.</summary>
    public const int Skip = 1;
    /// <summary>Index of the step counter t: steps applied so far, this one included (Adam's bias correction
    /// and SGD's first-step momentum use it). A skipped step does not advance it.</summary>
    public const int StepCount = 2;
    /// <summary>Index of the global gradient norm ‖g‖ before clipping (for reporting; NaN when the step was
    /// begun by <see cref="Backend{T}.AdvanceStep"/>, which measures nothing).</summary>
    public const int GlobalNorm = 3;
    /// <summary>Index of the number of steps skipped so far because ‖g‖ was not finite (for reporting:
    /// read it once per epoch instead of once per step).</summary>
    public const int SkippedSteps = 4;
}

/// <summary>Hyper-parameters of one fused Adam/AdamW launch (one parameter group), PyTorch semantics.</summary>
/// <param name="LearningRate">lr (already scheduled for this step).</param>
/// <param name="Beta1">β₁, decay of the first moment.</param>
/// <param name="Beta2">β₂, decay of the second moment.</param>
/// <param name="Epsilon">ε, added outside the square root.</param>
/// <param name="WeightDecay">λ: L2 (added to g) for Adam, decoupled (θ ← θ(1 − lr·λ)) for AdamW.</param>
/// <param name="Decoupled">True for AdamW.</param>
/// <param name="AmsGrad">Keep the running max of v and use it in the denominator.</param>
/// <param name="BiasCorrection">Divide by 1−β₁ᵗ and 1−β₂ᵗ (PyTorch's default); false gives the uncorrected seed formula.</param>
public readonly record struct AdamSettings(
    double LearningRate, double Beta1 = 0.9, double Beta2 = 0.999, double Epsilon = 1e-8,
    double WeightDecay = 0, bool Decoupled = false, bool AmsGrad = false, bool BiasCorrection = true)
{
    /// <summary>Throws unless every hyper-parameter is in its valid range (PyTorch's checks).</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β₁ must lie in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β₂ must lie in [0, 1).");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be finite and ≥ 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and ≥ 0.");
    }
}

/// <summary>Hyper-parameters of one SGD launch, PyTorch semantics.</summary>
/// <param name="LearningRate">lr (already scheduled for this step).</param>
/// <param name="Momentum">μ; 0 turns momentum (and the buffer) off.</param>
/// <param name="Dampening">Dampening of the gradient added to the momentum buffer (not applied on the first step).</param>
/// <param name="WeightDecay">λ, L2: g ← g + λθ.</param>
/// <param name="Nesterov">Nesterov momentum: g ← g + μ·buf (needs μ &gt; 0 and dampening 0).</param>
public readonly record struct SgdSettings(
    double LearningRate, double Momentum = 0, double Dampening = 0, double WeightDecay = 0, bool Nesterov = false)
{
    /// <summary>Throws unless every hyper-parameter is in its valid range (PyTorch's checks).</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        if (!(Momentum >= 0) || double.IsInfinity(Momentum)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "The momentum must be finite and ≥ 0.");
        if (!(Dampening >= 0) || double.IsInfinity(Dampening)) throw new ArgumentOutOfRangeException(nameof(Dampening), Dampening, "The dampening must be finite and ≥ 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and ≥ 0.");
        if (Nesterov && (Momentum <= 0 || Dampening != 0))
            throw new ArgumentException("Nesterov momentum needs a momentum > 0 and zero dampening.", nameof(Nesterov));
    }
}

/// <summary>Hyper-parameters of one fused RMSprop launch (one parameter group), PyTorch 1.13 semantics (<c>torch.optim.RMSprop</c>).</summary>
/// <param name="LearningRate">lr (already scheduled for this step).</param>
/// <param name="Alpha">α, the smoothing constant of the running averages.</param>
/// <param name="Epsilon">ε, added outside the square root: √v + ε (centered: √(v − ḡ²) + ε).</param>
/// <param name="WeightDecay">λ, L2: g ← g + λθ.</param>
/// <param name="Momentum">μ; 0 turns momentum (and its buffer) off.</param>
/// <param name="Centered">Divide by the estimated standard deviation √(v − ḡ²) instead of the root mean square √v (keeps ḡ).</param>
public readonly record struct RmsPropSettings(
    double LearningRate, double Alpha = 0.99, double Epsilon = 1e-8, double WeightDecay = 0, double Momentum = 0, bool Centered = false)
{
    /// <summary>Throws unless every hyper-parameter is in its valid range (PyTorch's checks; α also ≤ 1, see docs/maths.md §13.8).</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        if (!(Alpha >= 0 && Alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "α must lie in [0, 1].");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be finite and ≥ 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and ≥ 0.");
        if (!(Momentum >= 0) || double.IsInfinity(Momentum)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "The momentum must be finite and ≥ 0.");
    }
}

/// <summary>Hyper-parameters of one fused Adagrad launch (one parameter group), PyTorch 1.13 semantics (<c>torch.optim.Adagrad</c>).</summary>
/// <param name="LearningRate">lr (already scheduled for this step); the kernel decays it by the device step count t:
/// clr = lr/(1 + (t − 1)·lr_decay).</param>
/// <param name="LearningRateDecay">lr_decay ≥ 0.</param>
/// <param name="Epsilon">ε, added outside the square root: √(Σg²) + ε.</param>
/// <param name="WeightDecay">λ, L2: g ← g + λθ.</param>
public readonly record struct AdagradSettings(double LearningRate, double LearningRateDecay = 0, double Epsilon = 1e-10, double WeightDecay = 0)
{
    /// <summary>Throws unless every hyper-parameter is in its valid range (PyTorch's checks).</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be finite and ≥ 0.");
        if (!(LearningRateDecay >= 0) || double.IsInfinity(LearningRateDecay)) throw new ArgumentOutOfRangeException(nameof(LearningRateDecay), LearningRateDecay, "The learning-rate decay must be finite and ≥ 0.");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be finite and ≥ 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "The weight decay must be finite and ≥ 0.");
    }
}

public abstract partial class Backend<T>
{
    /// <summary>
    /// Sums of squares of the segments of <paramref name="x"/> delimited by
    /// <paramref name="segmentOffsets"/> (S+1 ascending entries, first 0, last x.Length):
    /// <c>result[s] = Σ_{i∈segment s} x[i]²</c> for s &lt; S, and <c>result[S]</c> = the total.
    /// One pass over the flat gradient buffer gives every per-parameter norm and the global norm.
    /// The offsets are trusted (they come from <see cref="FlatParameters{T}.SegmentOffsets"/>); only their count is checked.
    /// </summary>
    public abstract void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result);

    /// <summary>
    /// Reads the total sum of squares <c>sumOfSquares[0]</c> (from <see cref="SegmentedSumOfSquares"/>),
    /// and writes the <see cref="StepControl"/> block: norm n = √ss, skip = !finite(n),
    /// scale = min(1, maxNorm/(n + 1e-6)) (exactly 1 when maxNorm is +∞ or n is below it), t += 1 unless
    /// skipped, and the skipped-steps counter += 1 when skipped. A single-thread kernel.
    /// </summary>
    public abstract void UpdateStepControl(View<T> sumOfSquares, T maxNorm, View<T> control);

    /// <summary>
    /// Begins a step that is neither clipped nor guarded: scale = 1, skip = 0, t += 1, norm = NaN (not
    /// measured). The optimizers launch it when no <c>GradientClipper</c> prepared the block.
    /// </summary>
    public abstract void AdvanceStep(View<T> control);

    /// <summary>
    /// One fused Adam/AdamW step over a parameter group: reads g·scale, updates m, v (and vMax) and θ
    /// in a single pass, doing nothing when the control block says skip.
    /// <paramref name="vMax"/> is empty unless <see cref="AdamSettings.AmsGrad"/>.
    /// </summary>
    public abstract void AdamStep(View<T> parameters, View<T> gradients, View<T> m, View<T> v, View<T> vMax,
        AdamSettings settings, View<T> control);

    /// <summary>One SGD step (momentum, dampening, Nesterov, L2 weight decay), reading g·scale and the skip flag;
    /// the momentum buffer is set to g on the first applied step (t = 1), as PyTorch does.
    /// <paramref name="momentumBuffer"/> is empty when momentum is 0.</summary>
    public abstract void SgdStep(View<T> parameters, View<T> gradients, View<T> momentumBuffer,
        SgdSettings settings, View<T> control);

    /// <summary>One fused RMSprop step over a parameter group (L2 weight decay, momentum, centered), reading g·scale and
    /// the skip flag: v ← αv + (1−α)g², [ḡ ← αḡ + (1−α)g], d = √(v [− ḡ²]) + ε, then θ ← θ − lr·g/d or, with momentum,
    /// buf ← μ·buf + g/d, θ ← θ − lr·buf. <paramref name="gradientAverage"/> is empty unless centered,
    /// <paramref name="momentumBuffer"/> empty when the momentum is 0. Maths: docs/maths.md §13.8.</summary>
    public abstract void RmsPropStep(View<T> parameters, View<T> gradients, View<T> squareAverage, View<T> gradientAverage,
        View<T> momentumBuffer, RmsPropSettings settings, View<T> control);

    /// <summary>One fused Adagrad step over a parameter group (L2 weight decay, lr decay), reading g·scale, the skip flag
    /// and the step count t: g ← g + λθ, s ← s + g², θ ← θ − clr·g/(√s + ε) with clr = lr/(1 + (t − 1)·lr_decay).
    /// Maths: docs/maths.md §13.9.</summary>
    public abstract void AdagradStep(View<T> parameters, View<T> gradients, View<T> stateSum, AdagradSettings settings, View<T> control);

}
