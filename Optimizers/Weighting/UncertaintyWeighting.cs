using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Uncertainty weighting with learned log-variances (Kendall, Gal &amp; Cipolla 2018), in the common form
/// <c>L = Σᵢ exp(−sᵢ)·Lᵢ + sᵢ</c>, sᵢ = log σᵢ². The paper's regression form is ½exp(−sᵢ)Lᵢ + ½sᵢ (and exp(−sᵢ)Lᵢ + ½sᵢ
/// for classification); the ½ factors are dropped for every task, as most implementations do: it rescales the
/// regression tasks' objective by 2 and leaves the stationary point exp(sᵢ) = Lᵢ unchanged.
/// The sᵢ are ordinary parameters: the constructor registers them in the <see cref="FlatParameters{T}"/> (before it is
/// allocated) so the main optimizer updates them; each step <see cref="Update"/> runs one kernel
/// (<see cref="Backend{T}.UncertaintyWeights"/>) that writes wᵢ = exp(−sᵢ) into <see cref="TaskWeighting{T}.Weights"/>,
/// adds ∂L/∂sᵢ = 1 − exp(−sᵢ)Lᵢ into the gradient buffer, and writes the total loss into <see cref="TotalLoss"/>.
/// </summary>
public sealed class UncertaintyWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private readonly DeviceBuffer<T> _totalLoss;

    /// <summary>Registers the log-variance parameter (shape [tasks]) as <paramref name="name"/>.</summary>
    public UncertaintyWeighting(Backend<T> backend, FlatParameters<T> parameters, int tasks, string name = "uncertainty.log_variance")
        : base(backend, tasks)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        Slot = parameters.Add(name, tasks);
        _totalLoss = backend.Allocate<T>(1);
        SetAll(1.0);
    }

    /// <summary>Where the log-variances s live in the flat parameter and gradient buffers.</summary>
    public ParameterSlot Slot { get; }

    /// <summary>The log-variances s (a view of the flat parameter buffer).</summary>
    public View<T> LogVariances => _parameters.ValuesOf(Slot);

    /// <summary>Σᵢ exp(−sᵢ)Lᵢ + sᵢ of the last <see cref="Update"/> (1 element, on the device).</summary>
    public View<T> TotalLoss => _totalLoss.View;

    /// <summary>Sets every sᵢ (after the flat parameters are allocated; default 0, i.e. weight 1).</summary>
    public void Initialize(double logVariance = 0)
    {
        var values = new T[Tasks];
        Array.Fill(values, T.CreateTruncating(logVariance));
        Backend.Upload<T>(values, LogVariances);
        SetAll(Math.Exp(-logVariance));
    }

    /// <inheritdoc/>
    /// <remarks>Accumulates into the gradient buffer (zeroed by the step, like every other parameter's gradient).</remarks>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.UncertaintyWeights(taskLosses, LogVariances, Weights, _parameters.GradientsOf(Slot), accumulate: true, _totalLoss.View);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _totalLoss.Dispose();
        base.Dispose();
    }
}
