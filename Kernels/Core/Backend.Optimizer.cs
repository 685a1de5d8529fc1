namespace Engine.Kernels;

/// <summary>
/// The step-control block: four device scalars that the clipping kernel writes and the optimizer
/// kernels read, so that clipping, the non-finite guard and the step counter cost no host round-trip.
/// </summary>
public static class StepControl
{
    /// <summary>Elements in the block.</summary>
    public const int Length = 4;
    /// <summary>Index of the gradient scale: <c>min(1, c/(‖g‖+1e-6))</c>, or 1 without clipping.</summary>
    public const int GradientScale = 0;
    /// <summary>Index of the skip flag: 1 when ‖g‖ is NaN or ±∞ (the step then changes nothing), else 0.</summary>
    public const int Skip = 1;
    /// <summary>Index of the step counter t: steps applied so far, this one included (Adam's bias correction uses it).</summary>
    public const int StepCount = 2;
    /// <summary>Index of the global gradient norm ‖g‖ before clipping (for reporting).</summary>
    public const int GlobalNorm = 3;
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
    double WeightDecay = 0, bool Decoupled = false, bool AmsGrad = false, bool BiasCorrection = true);

/// <summary>Hyper-parameters of one SGD launch, PyTorch semantics.</summary>
public readonly record struct SgdSettings(
    double LearningRate, double Momentum = 0, double Dampening = 0, double WeightDecay = 0, bool Nesterov = false);

public abstract partial class Backend<T>
{
    /// <summary>
    /// Sums of squares of the segments of <paramref name="x"/> delimited by
    /// <paramref name="segmentOffsets"/> (S+1 ascending entries, first 0, last x.Length):
    /// <c>result[s] = Σ_{i∈segment s} x[i]²</c> for s &lt; S, and <c>result[S]</c> = the total.
    /// One pass over the flat gradient buffer gives every per-parameter norm and the global norm.
    /// </summary>
    public abstract void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result);
    /// <summary>
    /// Reads the total sum of squares <c>sumOfSquares[0]</c> (from <see cref="SegmentedSumOfSquares"/>),
    /// and writes the <see cref="StepControl"/> block: norm n = √ss, skip = !finite(n),
    /// scale = min(1, maxNorm/(n + 1e-6)) (1 when maxNorm is +∞), and t += 1 unless skipped.
    /// </summary>
    public abstract void UpdateStepControl(View<T> sumOfSquares, T maxNorm, View<T> control);

    /// <summary>
    /// One fused Adam/AdamW step over a parameter group: reads g·scale, updates m, v (and vMax) and θ
    /// in a single pass, doing nothing when the control block says skip.
    /// <paramref name="vMax"/> is empty unless <see cref="AdamSettings.AmsGrad"/>.
    /// </summary>
    public abstract void AdamStep(View<T> parameters, View<T> gradients, View<T> m, View<T> v, View<T> vMax,
        AdamSettings settings, View<T> control);

    /// <summary>One SGD step (momentum, dampening, Nesterov, L2 weight decay), reading g·scale and the skip flag.
    /// <paramref name="momentumBuffer"/> is empty when momentum is 0.</summary>
    public abstract void SgdStep(View<T> parameters, View<T> gradients, View<T> momentumBuffer,
        SgdSettings settings, View<T> control);
}
