namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <inheritdoc/>
    public override void SegmentedSumOfSquares(View<float> x, View<int> segmentOffsets, View<float> result) => throw new NotImplementedException("Ilgpu SegmentedSumOfSquares: not written yet.");
    /// <inheritdoc/>
    public override void UpdateStepControl(View<float> sumOfSquares, float maxNorm, View<float> control) => throw new NotImplementedException("Ilgpu UpdateStepControl: not written yet.");

    /// <inheritdoc/>
    public override void AdamStep(View<float> parameters, View<float> gradients, View<float> m, View<float> v, View<float> vMax, AdamSettings settings, View<float> control) => throw new NotImplementedException("Ilgpu AdamStep: not written yet.");

    /// <inheritdoc/>
    public override void SgdStep(View<float> parameters, View<float> gradients, View<float> momentumBuffer, SgdSettings settings, View<float> control) => throw new NotImplementedException("Ilgpu SgdStep: not written yet.");
}
