namespace Engine.Kernels;

/// <summary>Argument checks of the optimizer kernel family, shared by the CPU and ILGPU backends so that
/// bad input fails the same way (and names the same operand) everywhere.</summary>
internal static class OptimizerChecks
{
    /// <summary>The checks both backends make before an Adam step (shared so bad input fails the same way).</summary>
    public static void Adam<TElement>(Backend backend, View<TElement> parameters, View<TElement> gradients, View<TElement> m,
        View<TElement> v, View<TElement> vMax, AdamSettings settings, View<TElement> control) where TElement : unmanaged
    {
        settings.Validate();
        Check.Owned(backend, parameters, nameof(parameters));
        Check.Owned(backend, gradients, nameof(gradients));
        Check.Owned(backend, m, nameof(m));
        Check.Owned(backend, v, nameof(v));
        Check.Owned(backend, vMax, nameof(vMax));
        Check.Owned(backend, control, nameof(control));
        Check.SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        Check.SameLength(parameters, nameof(parameters), m, nameof(m));
        Check.SameLength(parameters, nameof(parameters), v, nameof(v));
        if (settings.AmsGrad) Check.Length(vMax, parameters.Length, nameof(vMax));
        Check.Length(control, StepControl.Length, nameof(control));
    }

    /// <summary>The checks both backends make before an SGD step.</summary>
    public static void Sgd<TElement>(Backend backend, View<TElement> parameters, View<TElement> gradients,
        View<TElement> momentumBuffer, SgdSettings settings, View<TElement> control) where TElement : unmanaged
    {
        settings.Validate();
        Check.Owned(backend, parameters, nameof(parameters));
        Check.Owned(backend, gradients, nameof(gradients));
        Check.Owned(backend, momentumBuffer, nameof(momentumBuffer));
        Check.Owned(backend, control, nameof(control));
        Check.SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        if (settings.Momentum != 0) Check.Length(momentumBuffer, parameters.Length, nameof(momentumBuffer));
        Check.Length(control, StepControl.Length, nameof(control));
    }

    /// <summary>The checks both backends make before an RMSprop step.</summary>
    public static void RmsProp<TElement>(Backend backend, View<TElement> parameters, View<TElement> gradients, View<TElement> squareAverage,
        View<TElement> gradientAverage, View<TElement> momentumBuffer, RmsPropSettings settings, View<TElement> control) where TElement : unmanaged
    {
        settings.Validate();
        Check.Owned(backend, parameters, nameof(parameters));
        Check.Owned(backend, gradients, nameof(gradients));
        Check.Owned(backend, squareAverage, nameof(squareAverage));
        Check.Owned(backend, gradientAverage, nameof(gradientAverage));
        Check.Owned(backend, momentumBuffer, nameof(momentumBuffer));
        Check.Owned(backend, control, nameof(control));
        Check.SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        Check.SameLength(parameters, nameof(parameters), squareAverage, nameof(squareAverage));
        if (settings.Centered) Check.Length(gradientAverage, parameters.Length, nameof(gradientAverage));
        if (settings.Momentum != 0) Check.Length(momentumBuffer, parameters.Length, nameof(momentumBuffer));
        Check.Length(control, StepControl.Length, nameof(control));
    }

    /// <summary>The checks both backends make before an Adagrad step.</summary>
    public static void Adagrad<TElement>(Backend backend, View<TElement> parameters, View<TElement> gradients, View<TElement> stateSum,
        AdagradSettings settings, View<TElement> control) where TElement : unmanaged
    {
        settings.Validate();
        Check.Owned(backend, parameters, nameof(parameters));
        Check.Owned(backend, gradients, nameof(gradients));
        Check.Owned(backend, stateSum, nameof(stateSum));
        Check.Owned(backend, control, nameof(control));
        Check.SameLength(parameters, nameof(parameters), gradients, nameof(gradients));
        Check.SameLength(parameters, nameof(parameters), stateSum, nameof(stateSum));
        Check.Length(control, StepControl.Length, nameof(control));
    }

    /// <summary>Checks shared by both backends' <see cref="Backend{T}.SegmentedSumOfSquares"/>.</summary>
    public static void SegmentedSumOfSquares<TElement>(Backend backend, View<TElement> x, View<int> segmentOffsets, View<TElement> result)
        where TElement : unmanaged
    {
        Check.Owned(backend, x, nameof(x));
        Check.Owned(backend, segmentOffsets, nameof(segmentOffsets));
        Check.Owned(backend, result, nameof(result));
        Check.AtLeast(segmentOffsets, 1, nameof(segmentOffsets));
        Check.Length(result, segmentOffsets.Length, nameof(result));
    }

    /// <summary>Checks shared by both backends' <see cref="Backend{T}.UpdateStepControl"/>.</summary>
    public static void UpdateStepControl<TElement>(Backend backend, View<TElement> sumOfSquares, double maxNorm, View<TElement> control)
        where TElement : unmanaged
    {
        Check.Owned(backend, sumOfSquares, nameof(sumOfSquares));
        Check.Owned(backend, control, nameof(control));
        Check.AtLeast(sumOfSquares, 1, nameof(sumOfSquares));
        Check.Length(control, StepControl.Length, nameof(control));
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive (+∞ for no clipping).");
    }
}
