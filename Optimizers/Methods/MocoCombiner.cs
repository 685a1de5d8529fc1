using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// MoCo, stochastic multi-objective gradient correction (Fernando et al. 2023, "Mitigating Gradient Bias in Multi-objective
/// Learning: A Provably Convergent Approach", ICLR; Algorithm 1; LibMTL <c>MoCo</c>). MGDA's weights computed from noisy
/// gradients are biased; MoCo tracks each task's gradient with a moving average and moves λ by one projected gradient
/// step on ½λᵀ(YYᵀ + ρI)λ per step instead of solving the min-norm problem. At step t (1, 2, …), with
/// β_t = β/t^σ_β, γ_t = γ/t^σ_γ:
/// <code>
/// yᵢ ← yᵢ − β_t(yᵢ − h̃ᵢ)              (h̃ᵢ = wᵢgᵢ, or wᵢgᵢ·Lᵢ/‖gᵢ‖ with normalization=loss, LibMTL's)
/// λ ← Π_Δ(λ − γ_t(YYᵀ + ρI)λ)         (Π_Δ: Euclidean projection onto the simplex; softmax with lambda-update=softmax, LibMTL's)
/// update = Σᵢ λᵢyᵢ
/// </code>
/// y starts at 0, λ at 1/T. A step is five launches (seven on ILGPU, which zeroes the two Gram matrices' atomic sums
/// first), none reading back: the Gram matrix of the gᵢ (<see cref="Backend{T}.Gram"/>: ‖gᵢ‖² on its diagonal for
/// normalization=loss; the step's conflict diagnostics read the same matrix, <see cref="ITaskGramCombiner{T}"/>, so it is
/// no pass of MoCo's own), the scales (<see cref="Backend{T}.MocoScales"/>, one thread), the T × P tracking pass
/// (<see cref="Backend{T}.MocoTrack"/>, which forms the Gram matrix of the updated Y in the same pass and, in a training
/// step, writes the old Y where the skipped-step guard keeps it, <see cref="IStateSavedByItsPass{T}"/>), the λ step
/// (<see cref="Backend{T}.MocoLambda"/>, one thread, float64), the linear combination: two passes over Y.
/// y (T × P), λ and t are its state (<see cref="IMethodState{T}"/>: saved with <c>--save</c> as <c>method.moco.*</c>
/// and resumed).
/// <b>Deviations:</b> (1) the defaults are the paper's λ projection with LibMTL's normalisation (the two are options);
/// (2) LibMTL divides by ‖gᵢ‖ + 1e-8, here by ‖gᵢ‖ (a zero gradient contributes 0): the normalised update does not
/// depend on the gradients' scale; (3) as for every gradient method, only the shared parameters' gradient is combined,
/// the heads keep their own (LibMTL's <c>_reset_grad</c> does the same); (4) λ is kept between steps in the backend's
/// precision (float32), each step's arithmetic in float64. Maths: docs/maths.md §18.17.
/// </summary>
public sealed class MocoCombiner<T> : ITaskGramCombiner<T>, IMethodState<T>, IStateSavedByItsPass<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _tracked, _state, _taskGram, _scales, _gram, _coefficients;
    private readonly DeviceBuffer<double> _workspace;
    private View<T> _saved;   // where MocoTrack writes Y as it was (the skipped-step guard's copy), when asked
    private readonly View<T> _losses;
    private readonly (string, View<T>)[] _named;

    /// <summary>MoCo for <paramref name="tasks"/> tasks of <paramref name="length"/> shared parameters; the step's losses
    /// (T, on the device) are read from <paramref name="losses"/> when <paramref name="parameters"/> normalise by them.</summary>
    public MocoCombiner(Backend<T> backend, int tasks, int length, View<T> losses, MocoParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Check.Positive(tasks, nameof(tasks));
        Check.Positive(length, nameof(length));
        CombinationChecks.CheckMoco(parameters);
        if (parameters.Normalization == MocoSolver.NormalizeByLoss) Check.Length(losses, tasks, nameof(losses));
        Backend = backend;
        Tasks = tasks;
        Length = length;
        Parameters = parameters;
        _losses = losses;
        var state = new T[MocoSolver.StateLength(tasks)];
        for (int i = 0; i < tasks; i++) state[i] = T.One / T.CreateTruncating(tasks);
        _state = backend.Allocate<T>(state);
        _tracked = backend.Allocate<T>(checked(tasks * length));
        backend.Fill(_tracked.View, T.Zero);
        _taskGram = backend.Allocate<T>(tasks * tasks);
        _scales = backend.Allocate<T>(tasks + 1);
        _gram = backend.Allocate<T>(tasks * tasks);
        _coefficients = backend.Allocate<T>(tasks);
        _workspace = backend.Allocate<double>(tasks);
        _named = [("moco.y", _tracked.View), ("moco.lambda", Lambda), ("moco.step", _state.View.Slice(tasks, 1))];
    }

    /// <summary>The device the combiner runs on.</summary>
    public Backend<T> Backend { get; }

    /// <summary>Number of tasks T.</summary>
    public int Tasks { get; }

    /// <summary>Number of shared parameters P.</summary>
    public int Length { get; }

    /// <summary>β, σ_β, γ, σ_γ, ρ, the normalisation and the λ update.</summary>
    public MocoParameters Parameters { get; }

    /// <summary>The tracked gradients Y (T × P, on the device).</summary>
    public View<T> Tracked => _tracked.View;

    /// <summary>The weights λ (T, on the device) of the last update.</summary>
    public View<T> Lambda => _state.View.Slice(0, Tasks);

    /// <summary>The Gram matrix of the last step's task gradients gᵢ (T × T, on the device): ‖gᵢ‖² on its diagonal for the
    /// normalisation, the whole of it for the step's conflict diagnostics.</summary>
    public View<T> Gram => _taskGram.View;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => _named;

    /// <inheritdoc/>
    public View<T> SavedByItsPass => _tracked.View;

    /// <inheritdoc/>
    public void SaveBeforeItsPass(View<T> saved) => _saved = saved;

    /// <inheritdoc/>
    public void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        if (tasks != Tasks) throw new ArgumentException($"MoCo was built for {Tasks} tasks, not {tasks}.", nameof(tasks));
        Check.Length(output, Length, nameof(output));
        bool normalize = Parameters.Normalization == MocoSolver.NormalizeByLoss;
        Backend.Gram(taskGradients, Tasks, Length, _taskGram.View);
        Backend.MocoScales(_taskGram.View, normalize ? _losses : _taskGram.View, taskWeights, Parameters, _state.View, _scales.View);
        Backend.MocoTrack(_tracked.View, taskGradients, Tasks, Length, _scales.View, _gram.View, _saved);
        Backend.MocoLambda(_gram.View, Tasks, Parameters, _state.View, _workspace.View, _coefficients.View);
        Backend.LinearCombination(_tracked.View, Tasks, Length, _coefficients.View, output, accumulate: false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _tracked.Dispose();
        _state.Dispose();
        _taskGram.Dispose();
        _scales.Dispose();
        _gram.Dispose();
        _coefficients.Dispose();
        _workspace.Dispose();
    }

    private static readonly string[] Normalizations = ["loss", "none"];
    private static readonly string[] Updates = ["projection", "softmax"];

    /// <summary>The registry entry <c>moco</c>.</summary>
    public static MethodDescriptor Method { get; } = new("moco",
        "track each task's gradient by a moving average y, take one projected step of λ on ½λᵀYYᵀλ per step, update Σλᵢyᵢ",
        "Fernando et al. 2023 (Mitigating Gradient Bias in Multi-objective Learning)", MethodNeeds.SharedGradients | MethodNeeds.Losses,
        [
            MethodOption.Real("beta", 0.5, "the tracking rate β of y (LibMTL's MoCo_beta)", 0, 1, minExclusive: true),
            MethodOption.Real("beta-sigma", 0.5, "the decay of β: β_t = β/t^σ (LibMTL's MoCo_beta_sigma)", 0),
            MethodOption.Real("gamma", 0.1, "the step size γ of λ (LibMTL's MoCo_gamma)", 0, minExclusive: true),
            MethodOption.Real("gamma-sigma", 0.5, "the decay of γ: γ_t = γ/t^σ (LibMTL's MoCo_gamma_sigma)", 0),
            MethodOption.Real("rho", 0, "the ℓ₂ term ρ of λ's objective ½λᵀ(YYᵀ + ρI)λ (LibMTL's MoCo_rho)", 0),
            MethodOption.Choice("normalization", "loss", "what y tracks: gᵢ·Lᵢ/‖gᵢ‖ (LibMTL) or the gradient gᵢ (the paper's Algorithm 1)", Normalizations),
            MethodOption.Choice("lambda-update", "projection", "λ ← Π_Δ(v), the projection onto the simplex (the paper), or softmax(v) (LibMTL)", Updates),
        ],
        gradient: c => new MocoCombiner<float>(c.Backend, c.Tasks, c.SharedLength, c.Losses, new MocoParameters(
            c.Arguments.Real("beta"), c.Arguments.Real("beta-sigma"), c.Arguments.Real("gamma"), c.Arguments.Real("gamma-sigma"), c.Arguments.Real("rho"),
            c.Arguments.Choice("normalization") == "loss" ? MocoSolver.NormalizeByLoss : MocoSolver.NoNormalization,
            c.Arguments.Choice("lambda-update") == "softmax" ? MocoSolver.Softmax : MocoSolver.Projection)));
}
