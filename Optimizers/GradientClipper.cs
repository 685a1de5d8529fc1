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
/// per-parameter norm (vanishing/exploding-gradient diagnostics). A second parameter set with its own optimizer
/// (training-only parameters kept outside a model, e.g. uncertainty log-variances) joins the same global norm through
/// <see cref="Include"/>: its gradients count in n, its optimizer gets the same scale and the same skip flag.
/// Maths: docs/maths.md §13.4.
/// </summary>
public sealed class GradientClipper<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Backend<T> _backend;
    private readonly FlatParameters<T> _parameters;
    private readonly StepControlBlock<T> _control;
    private readonly DeviceBuffer<T> _sums;
    private FlatParameters<T>? _extraParameters;   // set by Include
    private StepControlBlock<T>? _extraControl;
    private DeviceBuffer<T>? _extraSums;

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

    /// <summary>‖gᵢ‖² per parameter (slot order) followed by the total ‖g‖², on the device (after <see cref="ComputeNorms"/> or
    /// <see cref="Clip"/>). The total includes the set added by <see cref="Include"/>; the per-parameter entries do not.</summary>
    public View<T> SumsOfSquares => _sums.View;

    /// <summary>
    /// Makes <paramref name="parameters"/> part of the global norm, updated by the optimizer that owns
    /// <paramref name="control"/>: n² = ‖g‖² + ‖g′‖², and <see cref="Clip"/> writes the same scale and skip flag into both
    /// control blocks (each advances its own t). Once, before the first <see cref="Clip"/>.
    /// </summary>
    public void Include(FlatParameters<T> parameters, StepControlBlock<T> control)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(control);
        if (_extraParameters is not null) throw new InvalidOperationException("A second parameter set was already included in this clipper.");
        if (!parameters.IsAllocated) throw new InvalidOperationException("Allocate the included parameters (FlatParameters.Allocate) before including them.");
        if (ReferenceEquals(parameters, _parameters) || ReferenceEquals(control, _control))
            throw new ArgumentException("The included parameters and control block must differ from the clipper's own.", nameof(parameters));
        _extraSums = _backend.Allocate<T>(parameters.Slots.Count + 1);
        _extraParameters = parameters;
        _extraControl = control;
    }

    /// <summary>Computes every per-parameter ‖gᵢ‖² and the total in one pass (diagnostics; <see cref="Clip"/> does it too).</summary>
    public View<T> ComputeNorms()
    {
        _backend.SegmentedSumOfSquares(_parameters.Gradients, _parameters.SegmentOffsets, _sums.View);
        if (_extraParameters is { } extra)
        {
            // The included set's total ‖g′‖² (its last entry) is added to ours on the device.
            _backend.SegmentedSumOfSquares(extra.Gradients, extra.SegmentOffsets, _extraSums!.View);
            _backend.Axpy(T.One, _extraSums.Slice(extra.Slots.Count, 1), _sums.Slice(_parameters.Slots.Count, 1));
        }
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
        if (_control.IsPrepared || _extraControl?.IsPrepared == true)
            throw new InvalidOperationException("Clip was already called for this step: call the optimizer's Step() before clipping again.");
        ComputeNorms();
        var total = _sums.Slice(_parameters.Slots.Count, 1);
        _backend.UpdateStepControl(total, T.CreateSaturating(maxNorm), _control.View);
        _control.MarkPrepared();
        if (_extraControl is not null)
        {
            _backend.UpdateStepControl(total, T.CreateSaturating(maxNorm), _extraControl.View); // same n: same scale, same skip
            _extraControl.MarkPrepared();
        }
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
    public void Dispose()
    {
        _sums.Dispose();
        _extraSums?.Dispose();
    }
}
