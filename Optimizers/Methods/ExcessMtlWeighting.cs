using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// ExcessMTL (He, Zhou, Zhang, Yun, Xu, Zeng, Chilimbi &amp; Zhao, ICML 2024, "Robust Multi-Task Learning with Excess
/// Risks"; LibMTL's <c>ExcessMTL</c>, which is the authors' code): task weights moved by exponentiated gradient on
/// estimates of the tasks' excess risks Lᵢ(θ) − Lᵢ*, so that a task far from its own optimum gains weight and a noisy
/// task whose loss stays high near its optimum does not. The estimate is the second-order Taylor term
/// ½ gᵢᵀHᵢ⁻¹gᵢ with Hᵢ replaced by AdaGrad's diagonal hᵢ = √(Σ_steps gᵢ² + ε): rᵢ = Σₚ gᵢₚ²/hᵢₚ (LibMTL drops the ½,
/// which the scale r⁰ cancels), gᵢ the UNWEIGHTED gradient of Lᵢ with respect to every shared parameter
/// (<see cref="MethodNeeds.SharedGradients"/>; LibMTL's default, not its <c>rep_grad</c> variant). At the first step the
/// rᵢ are kept as the scales r⁰ᵢ and the weights stay 1; at every later step wᵢ ← wᵢ·exp(η·rᵢ/r⁰ᵢ), then Σw = T, and the
/// step trains on Σ wᵢLᵢ with the weights just updated from its own gradients (LibMTL's order).
/// <para>Kernels: one fused pass over [T × P] (<see cref="Backend{T}.ExcessRisks"/>: S ← S + g², rᵢ; in a training step
/// it also writes the old S where the skipped-step guard keeps it, <see cref="IStateSavedByItsPass{T}"/>), one float64
/// single-thread update (<see cref="Backend{T}.ExcessMtlStep"/>, <see cref="ExcessMtlSolver"/>) that writes this step's
/// <see cref="ITaskWeighting{T}.Weights"/>; no host read, nothing allocated per step.</para>
/// <para><b>Deviations.</b> The paper normalises to the simplex (Σw = 1) and (its Appendix C.1) takes r⁰ as the mean over
/// three warm-up epochs; LibMTL, followed here, normalises to Σw = T and takes the first step's rᵢ. Where LibMTL divides by
/// a zero r⁰ᵢ (no gradient of task i at the first step) a task takes its first nonzero rᵢ as r⁰ᵢ; a non-finite rᵢ keeps
/// the weights, and an element of S whose new sum is not finite keeps its old value (LibMTL's S would stay NaN).</para>
/// <para>State (the weights, r⁰, the update count, and S, the [T × P] accumulated squares) lives on the device and is
/// saved and restored with the step's state (<see cref="IMethodState{T}"/>, <c>method.excess-mtl.*</c>).
/// Maths: docs/maths.md §18.18.</para>
/// </summary>
public sealed class ExcessMtlWeighting<T> : TaskWeighting<T>, ITaskGradientWeighting<T>, IMethodState<T>, IStateSavedByItsPass<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _state;
    private readonly DeviceBuffer<T> _squaredSums;
    private readonly DeviceBuffer<T> _risks;
    private View<T> _saved;   // where ExcessRisks writes S as it was (the skipped-step guard's copy), when asked

    /// <summary>ExcessMTL for <paramref name="tasks"/> tasks over <paramref name="sharedLength"/> shared parameters.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T.</param>
    /// <param name="sharedLength">P, the row length of the task gradients it will be given.</param>
    /// <param name="stepSize">η, LibMTL's <c>robust_step_size</c> (its default 0.01).</param>
    public ExcessMtlWeighting(Backend<T> backend, int tasks, int sharedLength, double stepSize = 1e-2) : base(backend, tasks)
    {
        if (!(stepSize > 0) || !double.IsFinite(stepSize))
            throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "ExcessMTL's robust step size must be positive and finite.");
        ArgumentOutOfRangeException.ThrowIfNegative(sharedLength);
        StepSize = stepSize;
        SharedLength = sharedLength;
        _state = backend.Allocate<T>(ExcessMtlSolver.StateLength(tasks));
        _squaredSums = backend.Allocate<T>(checked(tasks * sharedLength));
        _risks = backend.Allocate<T>(tasks);
        Reset();
        StateBuffers = [
            ("excess-mtl.weight", _state.View.Slice(0, tasks)), ("excess-mtl.initial_risk", _state.View.Slice(tasks, tasks)),
            ("excess-mtl.updates", _state.View.Slice(2 * tasks, 1)), ("excess-mtl.grad_sum", _squaredSums.View),
        ];
    }

    /// <summary>η, the exponentiated-gradient step size.</summary>
    public double StepSize { get; }

    /// <summary>P.</summary>
    public int SharedLength { get; }

    /// <summary>The risks rᵢ of the last step (T, on the device).</summary>
    public View<T> Risks => _risks.View;

    /// <summary>S, the accumulated squared task gradients [T × P] (LibMTL's <c>grad_sum</c>).</summary>
    public View<T> SquaredSums => _squaredSums.View;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers { get; }

    /// <inheritdoc/>
    public View<T> SavedByItsPass => _squaredSums.View;

    /// <inheritdoc/>
    public void SaveBeforeItsPass(View<T> saved) => _saved = saved;

    /// <summary>Back to the initial state: w = 1, no scales, S = 0.</summary>
    public void Reset()
    {
        Backend.Upload<T>(Array.ConvertAll(ExcessMtlSolver.InitialState(Tasks), v => T.CreateTruncating(v)), _state.View);
        Backend.Fill(_squaredSums.View, T.Zero);
        SetAll(1.0);
    }

    /// <inheritdoc/>
    /// <remarks>The weights as they stand (the previous step's, or restored); <see cref="ObserveTaskGradients"/> rewrites
    /// them for this step.</remarks>
    public override void Update(View<T> taskLosses) => Backend.Copy(_state.View.Slice(0, Tasks), Weights);

    /// <inheritdoc/>
    public void ObserveTaskGradients(View<T> taskGradients, int length, View<T> taskLosses)
    {
        if (length != SharedLength)
            throw new ArgumentException($"ExcessMTL was built for {SharedLength} shared parameters but is given rows of {length}.", nameof(length));
        Check.Length(taskGradients, (long)Tasks * length, nameof(taskGradients));
        Backend.ExcessRisks(taskGradients, Tasks, _squaredSums.View, _risks.View, _saved);
        Backend.ExcessMtlStep(_risks.View, _state.View, StepSize, Weights);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _risks.Dispose();
        _squaredSums.Dispose();
        _state.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>excess-mtl</c>.</summary>
    public static MethodDescriptor Method { get; } = new("excess-mtl",
        "weights wᵢ ← wᵢ·exp(η·rᵢ/rᵢ⁰), Σw = T, rᵢ = gᵢᵀdiag(√Σg²)⁻¹gᵢ the excess-risk estimate (AdaGrad's diagonal Hessian)",
        "He et al. 2024 (Robust Multi-Task Learning with Excess Risks, ICML)",
        MethodNeeds.SharedGradients,
        [MethodOption.Real("robust-step-size", 1e-2, "η, the exponentiated-gradient step size (LibMTL's robust_step_size)", min: 0, minExclusive: true)],
        weighting: c => new ExcessMtlWeighting<float>(c.Backend, c.Tasks, c.SharedLength, c.Arguments.Real("robust-step-size")));
}
