namespace Engine.Kernels.Cpu;

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result) => throw new NotImplementedException("Cpu SegmentedSumOfSquares: not written yet.");
    /// <inheritdoc/>
    public override void UpdateStepControl(View<T> sumOfSquares, T maxNorm, View<T> control) => throw new NotImplementedException("Cpu UpdateStepControl: not written yet.");

    /// <inheritdoc/>
    public override void AdamStep(View<T> parameters, View<T> gradients, View<T> m, View<T> v, View<T> vMax, AdamSettings settings, View<T> control) => throw new NotImplementedException("Cpu AdamStep: not written yet.");

    /// <inheritdoc/>
    public override void SgdStep(View<T> parameters, View<T> gradients, View<T> momentumBuffer, SgdSettings settings, View<T> control) => throw new NotImplementedException("Cpu SgdStep: not written yet.");
}
