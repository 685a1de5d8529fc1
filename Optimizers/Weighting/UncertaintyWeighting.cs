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
public class UncertaintyWeighting<T> : TaskWeighting<T>, ILearnedWeighting where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FlatParameters<T> _parameters;
    private readonly DeviceBuffer<T> _totalLoss;
    private readonly int _sign;

    /// <summary>Registers the log-variance parameter (shape [tasks]) as <paramref name="name"/>.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="parameters">Where sᵢ is registered (not yet allocated).</param>
    /// <param name="tasks">T.</param>
    /// <param name="name">The slot's name.</param>
    /// <param name="initialLogVariance">The sᵢ <see cref="InitializeParameters"/> writes (LibMTL starts at −0.5; the
    /// default 0 is weight 1).</param>
    public UncertaintyWeighting(Backend<T> backend, FlatParameters<T> parameters, int tasks, string name = "uncertainty.log_variance",
        double initialLogVariance = 0)
        : this(backend, parameters, tasks, name, initialLogVariance, sign: -1)
    {
    }

    /// <summary>The form exp(sign·sᵢ)·Lᵢ − sign·sᵢ: −1 is this class's, +1 IMTL-L's (<see cref="ImtlLossWeighting{T}"/>).</summary>
    private protected UncertaintyWeighting(Backend<T> backend, FlatParameters<T> parameters, int tasks, string name, double initialLogVariance, int sign)
        : base(backend, tasks)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!double.IsFinite(initialLogVariance))
            throw new ArgumentOutOfRangeException(nameof(initialLogVariance), initialLogVariance, "The initial log-variance must be finite.");
        _parameters = parameters;
        _sign = sign;
        InitialLogVariance = initialLogVariance;
        Slot = parameters.Add(name, tasks);
        _totalLoss = backend.Allocate<T>(1);
        SetAll(1.0);
    }

    /// <summary>The initial sᵢ.</summary>
    public double InitialLogVariance { get; }

    /// <summary>Sets every sᵢ to <see cref="InitialLogVariance"/> (after the flat parameters are allocated).</summary>
    public void InitializeParameters() => Initialize(InitialLogVariance);

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
        SetAll(Math.Exp(_sign * logVariance));
    }

    /// <inheritdoc/>
    /// <remarks>Accumulates into the gradient buffer (zeroed by the step, like every other parameter's gradient).</remarks>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.UncertaintyWeights(taskLosses, LogVariances, Weights, _parameters.GradientsOf(Slot), accumulate: true, _totalLoss.View, _sign);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _totalLoss.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>uncertainty</c>. The sᵢ are trained by an optimizer of the model's kind without weight
    /// decay, join the global-norm clip, and are saved in checkpoints with their optimizer state.</summary>
    public static MethodDescriptor Method { get; } = new("uncertainty",
        "learned log-variances sᵢ: loss Σ exp(−sᵢ)Lᵢ + sᵢ, λᵢ = exp(−sᵢ)", "Kendall, Gal & Cipolla 2018",
        MethodNeeds.Losses | MethodNeeds.LearnedParameters,
        [MethodOption.Real("init", 0, "the initial log-variance sᵢ (LibMTL: −0.5)")],
        weighting: c => new UncertaintyWeighting<float>(c.Backend,
            c.LearnedParameters ?? throw new ArgumentException("uncertainty needs MethodContext.LearnedParameters.", nameof(c)),
            c.Tasks, initialLogVariance: c.Arguments.Real("init")));
}
