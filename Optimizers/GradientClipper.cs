using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>What <see cref="GradientClipper{T}.Clip"/> does when the global gradient norm is NaN or ±∞.</summary>
public enum NonFiniteGradients
{
    /// <summary>Skip the step on the device (parameters, moments and t untouched) and count it; no host read.</summary>
    Skip,
    /// <summary>Skip it and throw <see cref="NonFiniteGradientException"/> (PyTorch's <c>error_if_nonfinite</c>);
    /// costs one host read of the skip flag per step.</summary>
    Throw,
}

/// <summary>The global gradient norm was NaN or ±∞ (only in <see cref="NonFiniteGradients.Throw"/> mode).</summary>
public sealed class NonFiniteGradientException(double norm)
    : InvalidOperationException($"The total norm of the gradients is {norm}, so they cannot be clipped; the step was skipped " +
        "(parameters and optimizer state are unchanged). Per-parameter norms (GradientClipper.ReadParameterNorms) show which parameter is at fault.")
{
    /// <summary>The non-finite norm.</summary>
    public double Norm { get; } = norm;
}

/// <summary>
/// Global-norm gradient clipping, PyTorch's <c>clip_grad_norm_</c>: n = √Σᵢ‖gᵢ‖² over every parameter in
/// one segmented reduction, and scale = min(1, c/(n + 1e-6)). The scale is not applied here: it is written
/// into the optimizer's <see cref="StepControlBlock{T}"/> and the fused optimizer kernel multiplies the
/// gradient by it as it reads it, so clipping costs one read of the gradients, not a second read and write.
/// A non-finite n sets the skip flag instead: the step then changes nothing. The same reduction gives every
/// per-parameter norm (vanishing/exploding-gradient diagnostics). Maths: docs/maths.md §13.4.
/// </summary>
public sealed class GradientClipper<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Backend<T> _backend;
    private readonly FlatParameters<T> _parameters;
    private readonly StepControlBlock<T> _control;
    private readonly DeviceBuffer<T> _sums;

    /// <summary>Creates a clipper that writes <paramref name="control"/> (an optimizer's <c>Control</c>).</summary>
    public GradientClipper(Backend<T> backend, FlatParameters<T> parameters, StepControlBlock<T> control,
        NonFiniteGradients onNonFinite = NonFiniteGradients.Skip)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(control);
        if (!parameters.IsAllocated) throw new InvalidOperationException("Allocate the parameters (FlatParameters.Allocate) before creating a clipper.");
        _backend = backend;
        _parameters = parameters;
        _control = control;
        OnNonFinite = onNonFinite;
        _sums = backend.Allocate<T>(parameters.Slots.Count + 1);
    }

    /// <summary>What a non-finite norm does.</summary>
    public NonFiniteGradients OnNonFinite { get; }

    /// <summary>‖gᵢ‖² per parameter (slot order) followed by the total ‖g‖², on the device (after <see cref="ComputeNorms"/> or <see cref="Clip"/>).</summary>
    public View<T> SumsOfSquares => _sums.View;

    /// <summary>Computes every per-parameter ‖gᵢ‖² and the total in one pass (diagnostics; <see cref="Clip"/> does it too).</summary>
    public View<T> ComputeNorms()
    {
        _backend.SegmentedSumOfSquares(_parameters.Gradients, _parameters.SegmentOffsets, _sums.View);
        return _sums.View;
    }

    /// <summary>
    /// Measures the global norm and prepares the next optimizer step: scale = min(1, c/(n + 1e-6)),
    /// skip when n is not finite, t += 1 otherwise. Pass <c>double.PositiveInfinity</c> to keep only the
    /// norm and the non-finite guard. Returns the norm n as a 1-element device view (read it only when
    /// reporting). Call once per step, before the optimizer's <c>Step()</c>.
    /// </summary>
    public View<T> Clip(double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive (+∞ for no clipping).");
        if (_control.IsPrepared) throw new InvalidOperationException("Clip was already called for this step: call the optimizer's Step() before clipping again.");
        ComputeNorms();
        _backend.UpdateStepControl(_sums.Slice(_parameters.Slots.Count, 1), T.CreateSaturating(maxNorm), _control.View);
        _control.MarkPrepared();
        if (OnNonFinite == NonFiniteGradients.Throw && _control.ReadSkipped())
            throw new NonFiniteGradientException(_control.ReadNorm());
        return _control.Norm;
    }

    /// <summary>Reads the per-parameter gradient norms ‖gᵢ‖ of the last reduction, by parameter name (host read: reporting).</summary>
    public IReadOnlyDictionary<string, double> ReadParameterNorms()
    {
        var sums = _backend.ToArray(_sums.View);
        var norms = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < _parameters.Slots.Count; i++)
            norms.Add(_parameters.Slots[i].Name, Math.Sqrt(double.CreateTruncating(sums[i])));
        return norms;
    }

    /// <inheritdoc/>
    public void Dispose() => _sums.Dispose();
}
