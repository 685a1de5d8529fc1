using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// STCH, smooth Tchebycheff scalarization (Lin, Zhang, Yang, Zhang &amp; Zhang, ICML 2024; LibMTL's <c>STCH</c>): the
/// objective μ·log Σᵢ exp(λᵢ(Lᵢ − zᵢ)/μ), a smooth upper bound of the Tchebycheff maxᵢ λᵢ(Lᵢ − zᵢ) that tends to it as
/// μ → 0. As LibMTL runs it for multi-task learning: during the first W epochs (<c>warmup-epochs</c>, epochs 0…W−1)
/// the step trains on Σ log(Lᵢ + 1e-20); during epoch W also, while summing the batch losses; afterwards nᵢ, the mean
/// of task i's batch losses over epoch W (the nadir point), normalises the losses, ℓᵢ = log(Lᵢ/nᵢ + 1e-20), and the
/// objective is T·μ·log Σᵢ exp(ℓᵢ/μ) (λ = 1, z = 0 in log space). The step trains on Σ wᵢLᵢ with wᵢ the objective's
/// partial derivatives, wᵢ = 1/(Lᵢ + 1e-20) in the warm-up and wᵢ = T·softmax(ℓ/μ)ᵢ/(Lᵢ + 1e-20·nᵢ) after it,
/// recomputed every step on the device (<see cref="Backend{T}.StchWeights"/>, no host read). The epoch count lives on
/// the device too and advances in <see cref="EndEpoch"/> (a launch, no read; the trainer calls it at every epoch end
/// whose mean losses are finite, <see cref="MethodNeeds.EpochLosses"/>). Maths: docs/maths.md §18.14.
/// <para>State (the warm-up sums, their count, the epoch) is one device buffer saved with the step's state
/// (<see cref="IMethodState{T}"/>, <c>method.stch.*</c>).</para>
/// </summary>
public sealed class StchWeighting<T> : TaskWeighting<T>, IMethodState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _state;
    private readonly (string Name, View<T> Values)[] _named;
    private readonly T _mu;

    /// <summary>STCH for <paramref name="tasks"/> tasks; weights 1 until the first update.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T.</param>
    /// <param name="mu">μ, the smoothing (LibMTL's <c>STCH_mu</c>, 1).</param>
    /// <param name="warmupEpochs">W (LibMTL's <c>STCH_warmup_epoch</c>, 4): STCH proper starts at epoch W + 1.</param>
    public StchWeighting(Backend<T> backend, int tasks, double mu = 1.0, int warmupEpochs = 4) : base(backend, tasks)
    {
        if (!(mu > 0) || !double.IsFinite(mu)) throw new ArgumentOutOfRangeException(nameof(mu), mu, "mu must be positive and finite.");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupEpochs);
        _mu = T.CreateTruncating(mu);
        Mu = mu;
        WarmupEpochs = warmupEpochs;
        _state = backend.Allocate<T>(tasks + 2);
        backend.Fill(_state.View, T.Zero);
        var s = _state.View;
        _named =
        [
            ("stch.warmup_loss_sums", s.Slice(0, tasks)),
            ("stch.warmup_steps", s.Slice(tasks, 1)),
            ("stch.epoch", s.Slice(tasks + 1, 1)),
        ];
        SetAll(1.0);
    }

    /// <summary>μ.</summary>
    public double Mu { get; }

    /// <summary>W, the warm-up epochs.</summary>
    public int WarmupEpochs { get; }

    /// <summary>[warm-up loss sums (T), their count, epochs completed].</summary>
    public View<T> State => _state.View;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => _named;

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.StchWeights(taskLosses, _mu, WarmupEpochs, _state.View, Weights, endOfEpoch: false);
    }

    /// <summary>Counts the epoch on the device (the epoch means themselves are not used).</summary>
    public override void EndEpoch(ReadOnlySpan<double> epochLosses, ReadOnlySpan<double> epochAccuracies) =>
        Backend.StchWeights(Weights, _mu, WarmupEpochs, _state.View, Weights, endOfEpoch: true);

    /// <inheritdoc/>
    public override void Dispose()
    {
        _state.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>stch</c>.</summary>
    public static MethodDescriptor Method { get; } = new("stch",
        "smooth Tchebycheff: T·μ·log Σ exp(log(Lᵢ/nᵢ)/μ) after warm-up epochs on Σ log Lᵢ (n: the losses' mean in the last warm-up epoch)",
        "Lin et al. 2024 (STCH, ICML)", MethodNeeds.Losses | MethodNeeds.EpochLosses,
        [
            MethodOption.Real("mu", 1.0, "μ, the smoothing (→ 0: the maximum of the normalised log-losses)", min: 0, minExclusive: true),
            MethodOption.Integer("warmup-epochs", 4, "W: epochs 0…W train on Σ log Lᵢ, epoch W also sums the losses for the nadir point", min: 0),
        ],
        weighting: c => new StchWeighting<float>(c.Backend, c.Tasks, c.Arguments.Real("mu"), c.Arguments.Integer("warmup-epochs")));
}
